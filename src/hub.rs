//! Finding a model file: a path, our own cache (`$ANUVAD_HOME/models`), the Hugging Face
//! cache, or a download through hf-hub. `HF_ENDPOINT` (a mirror, or a local test
//! server), `HF_HOME` and `HF_HUB_OFFLINE` are honoured; hf-hub 0.4 has no offline mode,
//! so offline lookups go to its cache directly and never touch the network.

use crate::card::ModelCard;
use crate::error::{Error, Result};
use crate::progress::{Event, Progress};
use candle_core::quantized::gguf_file;
use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct HubConfig {
    /// Hub base URL; None = hf-hub's default.
    pub endpoint: Option<String>,
    /// Root of Hugging Face state; the cache is `<hf_home>/hub`.
    pub hf_home: Option<PathBuf>,
    /// Cache only, no network.
    pub offline: bool,
}

impl HubConfig {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        HubConfig {
            endpoint: var("HF_ENDPOINT"),
            hf_home: var("HF_HOME").map(PathBuf::from),
            offline: var("HF_HUB_OFFLINE")
                .is_some_and(|v| matches!(v.to_lowercase().as_str(), "1" | "true" | "yes" | "on")),
        }
    }

    fn cache(&self) -> Cache {
        match &self.hf_home {
            Some(h) => Cache::new(h.join("hub")),
            None => Cache::from_env(),
        }
    }
}

/// Reports hf-hub's download progress as our events.
struct HubProgress<'a>(&'a mut dyn Progress);

impl hf_hub::api::Progress for HubProgress<'_> {
    fn init(&mut self, size: usize, filename: &str) {
        self.0.event(&Event::DownloadStart {
            file: filename,
            bytes: size as u64,
        });
    }
    fn update(&mut self, size: usize) {
        self.0.event(&Event::DownloadAdvance { bytes: size as u64 });
    }
    fn finish(&mut self) {
        self.0.event(&Event::DownloadDone);
    }
}

/// A model ready to load.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub path: PathBuf,
    pub card: ModelCard,
    pub sha256: String,
}

fn fix_for(card: &ModelCard) -> String {
    if card.source.hub_repo.is_some() {
        format!("anuvad models pull {}", card.id)
    } else {
        "scripts/fetch-model.sh".to_string()
    }
}

/// The ids of `cards`, for messages.
pub fn known(cards: &[ModelCard]) -> String {
    cards
        .iter()
        .map(|c| c.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn hub_repo(card: &ModelCard, repo: &str) -> Repo {
    Repo::with_revision(
        repo.to_string(),
        RepoType::Model,
        card.source.revision.clone(),
    )
}

/// Where the card's file is on this machine, if anywhere. A model of several files
/// (`source.files`) counts only when all of them are there, in its own folder
/// (`$ANUVAD_HOME/models/<id>/`) or in the hub cache's snapshot.
pub fn local_path(card: &ModelCard, home: &Path, hub: &HubConfig) -> Option<PathBuf> {
    let complete = |main: &Path| {
        let dir = main.parent().unwrap_or(Path::new("."));
        card.source.files.iter().all(|f| dir.join(f).is_file())
    };
    let ours = if card.source.files.is_empty() {
        home.join("models").join(&card.source.file)
    } else {
        home.join("models").join(&card.id).join(&card.source.file)
    };
    if ours.is_file() && complete(&ours) {
        return Some(ours);
    }
    let repo = card.source.hub_repo.as_ref()?;
    let cache = hub.cache().repo(hub_repo(card, repo));
    let main = cache.get(&card.source.file)?;
    card.source
        .files
        .iter()
        .all(|f| cache.get(f).is_some())
        .then_some(main)
}

/// `--model` value → a local, checked GGUF file and the card that describes it.
pub fn resolve(
    model: Option<&str>,
    card_override: Option<&str>,
    cards: &[ModelCard],
    home: &Path,
    hub: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<Resolved> {
    let by_id = |id: &str| {
        cards
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or_else(|| Error::UnknownModel {
                name: id.to_string(),
                known: known(cards),
            })
    };
    let is_path = model.is_some_and(|m| {
        m.ends_with(".gguf") || m.contains('/') || Path::new(m).is_file() || Path::new(m).is_dir()
    });
    let (path, card) = if is_path {
        let path = weights_in(PathBuf::from(model.unwrap_or_default()));
        if !path.is_file() {
            return Err(Error::ModelMissing {
                fix: "check the path, or pass a card id from `anuvad models list`".into(),
                path,
            });
        }
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let card = match card_override {
            Some(id) => by_id(id)?,
            None if !file.ends_with(".gguf") => marian_card(&path, cards)?,
            None => match cards.iter().find(|c| c.source.file == file) {
                Some(c) => c.clone(),
                None => card_for_architecture(&path, cards)?,
            },
        };
        (path, card)
    } else {
        let card = match model {
            Some(id) => by_id(id)?,
            None => cards.iter().find(|c| c.default).cloned().ok_or_else(|| {
                Error::Invalid("no model card is marked default = true; pass --model".into())
            })?,
        };
        let path = match local_path(&card, home, hub) {
            Some(p) => p,
            None => pull(&card, home, hub, progress)?,
        };
        (path, card)
    };
    let fix = fix_for(&card);
    if !card.is_marian() {
        check_gguf(&path, &fix)?;
    }
    if let Some(size) = card.source.size {
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len != size && card.source.file == file_name(&path) {
            return Err(Error::ModelCorrupt {
                path,
                detail: format!("{len} bytes, expected {size}"),
                fix,
            });
        }
    }
    let sha256 = file_sha256(&path, home)?;
    Ok(Resolved { path, card, sha256 })
}

/// A Marian model's folder stands for its weights: model.safetensors, else the
/// PyTorch pytorch_model.bin.
fn weights_in(path: PathBuf) -> PathBuf {
    if !path.is_dir() {
        return path;
    }
    let safetensors = path.join("model.safetensors");
    if safetensors.is_file() {
        safetensors
    } else {
        path.join("pytorch_model.bin")
    }
}

/// For a Marian folder or weights file: the first Marian card (its prompts and
/// settings fit every OPUS-MT model).
fn marian_card(path: &Path, cards: &[ModelCard]) -> Result<ModelCard> {
    cards
        .iter()
        .find(|c| c.is_marian())
        .cloned()
        .ok_or_else(|| Error::UnsupportedArchitecture {
            arch: "marian".into(),
            path: path.to_path_buf(),
            supported: crate::card::SUPPORTED_ARCHITECTURES.join(", "),
        })
}

/// Whether `model` (a card id or path, None = the default card) names a Marian model.
pub fn names_marian(model: Option<&str>, card: Option<&str>, cards: &[ModelCard]) -> bool {
    let by_id = |id: &str| cards.iter().find(|c| c.id == id);
    if let Some(c) = card.and_then(by_id) {
        return c.is_marian();
    }
    match model {
        Some(m) => match by_id(m) {
            Some(c) => c.is_marian(),
            None => {
                let p = Path::new(m);
                p.is_dir() || m.ends_with(".safetensors") || m.ends_with(".bin")
            }
        },
        None => cards
            .iter()
            .find(|c| c.default)
            .is_some_and(|c| c.is_marian()),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// For a bare .gguf path: a card of the same architecture, instruct if the GGUF has a
/// chat template, base otherwise.
fn card_for_architecture(path: &Path, cards: &[ModelCard]) -> Result<ModelCard> {
    let f = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut f = std::io::BufReader::new(f);
    let content = crate::gguf::scan_header(&mut f)
        .and_then(|()| gguf_file::Content::read(&mut f).map_err(|e| e.to_string()))
        .map_err(|e| Error::ModelCorrupt {
            path: path.to_path_buf(),
            detail: format!("unreadable GGUF header: {e}"),
            fix: "fetch the file again".into(),
        })?;
    let arch = content
        .metadata
        .get("general.architecture")
        .and_then(|v| v.to_string().ok().cloned())
        .unwrap_or_default();
    let instruct = content.metadata.contains_key("tokenizer.chat_template");
    let same: Vec<&ModelCard> = cards.iter().filter(|c| c.architecture == arch).collect();
    same.iter()
        .find(|c| c.instruct == instruct)
        .or(same.first())
        .map(|c| (*c).clone())
        .ok_or_else(|| Error::UnsupportedArchitecture {
            arch,
            path: path.to_path_buf(),
            supported: crate::card::SUPPORTED_ARCHITECTURES.join(", "),
        })
}

/// Download the card's file through hf-hub (or find it in the cache when offline),
/// then verify its size and sha256 when the card gives them.
pub fn pull(
    card: &ModelCard,
    home: &Path,
    hub: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<PathBuf> {
    let Some(repo) = card.source.hub_repo.as_deref() else {
        if let Some(p) = local_path(card, home, hub) {
            return Ok(p);
        }
        return Err(Error::ModelMissing {
            path: home.join("models").join(&card.source.file),
            fix: "scripts/fetch-model.sh".into(),
        });
    };
    let path = fetch(repo, &card.source.file, card, hub, progress)?;
    for extra in &card.source.files {
        fetch(repo, extra, card, hub, progress)?;
    }
    if let Some(want) = &card.source.sha256 {
        let got = file_sha256(&path, home)?;
        if &got != want {
            // hf-hub's cache entry is a symlink to a blob: remove both.
            if let Ok(blob) = std::fs::canonicalize(&path) {
                let _ = std::fs::remove_file(blob);
            }
            let _ = std::fs::remove_file(&path);
            return Err(Error::ModelCorrupt {
                path,
                detail: format!("sha256 {got}, expected {want}; the download was removed"),
                fix: fix_for(card),
            });
        }
    }
    Ok(path)
}

fn fetch(
    repo: &str,
    file: &str,
    card: &ModelCard,
    hub: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<PathBuf> {
    let cached = hub.cache().repo(hub_repo(card, repo)).get(file);
    if let Some(p) = cached {
        return Ok(p);
    }
    if hub.offline {
        return Err(Error::Offline {
            model: card.id.clone(),
            file: format!("{repo}/{file}"),
        });
    }
    let mut builder = ApiBuilder::from_cache(hub.cache()).with_progress(false);
    if let Some(e) = &hub.endpoint {
        builder = builder.with_endpoint(e.clone());
    }
    let download_err = |message: String| Error::Download {
        repo: repo.to_string(),
        file: file.to_string(),
        message,
    };
    let api = builder.build().map_err(|e| download_err(e.to_string()))?;
    api.repo(hub_repo(card, repo))
        .download_with_progress(file, HubProgress(progress))
        .map_err(|e| {
            download_err(format!(
                "{e} (check the network, or set HF_ENDPOINT to a mirror)"
            ))
        })
}

/// The card's tokenizer.json, for cards whose tokenizer comes from the hub.
pub fn tokenizer_json(
    card: &ModelCard,
    hub: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<PathBuf> {
    let repo = card
        .tokenizer
        .hub_repo
        .as_deref()
        .ok_or_else(|| Error::Card {
            path: format!("models/{}.toml", card.id),
            message: "tokenizer.source = \"hub\" needs tokenizer.hub_repo".into(),
        })?;
    fetch(repo, &card.tokenizer.file, card, hub, progress)
}

/// Cheap checks before loading: the file exists and starts like a GGUF.
pub fn check_gguf(path: &Path, fix: &str) -> Result<()> {
    let mut f = std::fs::File::open(path).map_err(|_| Error::ModelMissing {
        path: path.to_path_buf(),
        fix: fix.to_string(),
    })?;
    let mut magic = [0u8; 4];
    if f.read_exact(&mut magic).is_err() || &magic != b"GGUF" {
        return Err(Error::ModelCorrupt {
            path: path.to_path_buf(),
            detail: "not a GGUF file (bad magic bytes)".into(),
            fix: fix.to_string(),
        });
    }
    Ok(())
}

/// sha256 of a model file, remembered in a sidecar keyed by size and mtime so a 250 MB
/// file is hashed once, not on every run. The sidecar sits next to the file, or under
/// `$home/sha256/` when that folder is not writable.
pub fn file_sha256(path: &Path, home: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let key = format!("{} {}", meta.len(), mtime);
    let name = format!("{}.sha256", file_name(path));
    let beside = path.with_file_name(&name);
    let fallback = home.join("sha256").join(&name);
    for sidecar in [&beside, &fallback] {
        if let Ok(text) = std::fs::read_to_string(sidecar)
            && let Some((hash, k)) = text.trim().split_once(' ')
            && k == key
            && hash.len() == 64
        {
            return Ok(hash.to_string());
        }
    }
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let line = format!("{hash} {key}\n");
    if std::fs::write(&beside, &line).is_err() {
        let _ = std::fs::create_dir_all(fallback.parent().unwrap_or(home));
        let _ = std::fs::write(&fallback, &line);
    }
    Ok(hash)
}
