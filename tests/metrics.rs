//! anuvad's chrF and BLEU equal the `sacrebleu` package's (fixtures written by
//! scripts/metrics-fixtures.py with sacrebleu's default settings) to 1e-6.

use serde_json::Value;

#[test]
fn chrf_and_bleu_match_sacrebleu_on_the_fixtures() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/metrics.json"
    ))
    .unwrap();
    let fixtures: Value = serde_json::from_str(&text).unwrap();
    let cases = fixtures["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 4,
        "the fixtures include the model's long translation"
    );
    for c in cases {
        let strings = |k: &str| -> Vec<String> {
            c[k].as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        let (hyps, refs) = (strings("hyps"), strings("refs"));
        let h: Vec<&str> = hyps.iter().map(String::as_str).collect();
        let r: Vec<&str> = refs.iter().map(String::as_str).collect();
        let name = c["name"].as_str().unwrap();
        let chrf = anuvad::internals::metrics::chrf(&h, &r);
        let bleu = anuvad::internals::metrics::bleu(&h, &r);
        let (want_chrf, want_bleu) = (c["chrf"].as_f64().unwrap(), c["bleu"].as_f64().unwrap());
        assert!(
            (chrf - want_chrf).abs() < 1e-6,
            "{name}: chrF {chrf} vs sacrebleu {want_chrf}"
        );
        assert!(
            (bleu - want_bleu).abs() < 1e-6,
            "{name}: BLEU {bleu} vs sacrebleu {want_bleu}"
        );
    }
}
