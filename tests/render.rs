//! The review page as a browser sees it: scripts/render-review.sh renders a page made
//! by `translate --review` with headless Chromium. Runs where Chromium is installed
//! (scripts/test.sh installs it and sets ANUVAD_REQUIRE_CHROMIUM=1, so in CI a missing
//! or failing browser is a failure, not a skip).

mod common;

use common::chromium;
use common::tiny::{Home, stderr};
use std::process::Command;

#[test]
fn a_review_page_renders_to_a_png_in_headless_chromium() {
    if chromium().is_none() {
        return;
    }
    let home = Home::new("render");
    let page = home.path("review.html");
    let out = home.run(&[
        "translate",
        home.path("article.txt").to_str().unwrap(),
        "--progress",
        "none",
        "--review",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let png = home.path("review.png");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/render-review.sh");
    let r = Command::new("bash")
        .args([
            script,
            page.to_str().unwrap(),
            png.to_str().unwrap(),
            "1000",
            "800",
        ])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG image");
    // Width and height from the IHDR chunk: the window size asked for.
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (1000, 800));
    // A blank page compresses to a few KB; text and shading make it larger.
    assert!(
        bytes.len() > 15_000,
        "{} bytes: is the page blank?",
        bytes.len()
    );
}
