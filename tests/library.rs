//! The library API as the crate documentation shows it (`Pipeline::load`, `translate`,
//! `summarize`, `review`), on the tiny random Gemma 3: it gives the records the binary
//! prints, and a wrapped engine plugs in through `Pipeline::with_engine`.

mod common;

use anuvad::config::{InputRules, ModelChoice, Options};
use anuvad::engine::{Engine, Generation, ModelInfo, Request};
use anuvad::progress::Silent;
use anuvad::record::SCHEMA_VERSION;
use anuvad::{Article, HubConfig, Pipeline, Plan, Uses};
use common::tiny::{ARTICLE, Home};

fn choice(home: &Home) -> ModelChoice {
    ModelChoice::new(Some("tiny".into()), home.dir.clone())
}

fn offline() -> HubConfig {
    HubConfig {
        offline: true,
        ..HubConfig::default()
    }
}

#[test]
fn a_loaded_pipeline_translates_summarizes_and_reviews_like_the_binary() {
    let home = Home::new("library");
    let both = Uses {
        translate: true,
        summarize: true,
    };
    let options = Options::default();
    let mut pipeline =
        Pipeline::load(&choice(&home), &options, both, &offline(), &mut Silent).unwrap();
    let article = Article::new("article.txt", ARTICLE, &InputRules::default()).unwrap();

    let t = pipeline.translate(&article, &mut Silent).unwrap();
    assert_eq!(t.schema_version, SCHEMA_VERSION);
    assert_eq!(t.model.id, "tiny");
    assert_eq!(t.translation.paragraphs.len(), 4);
    assert_eq!(
        t.translation.checks.sentences,
        t.translation.sentences().count()
    );
    // The same record the binary prints for `translate --format json`.
    let out = home.run(&[
        "translate",
        home.path("article.txt").to_str().unwrap(),
        "--format",
        "json",
        "--progress",
        "none",
    ]);
    let printed: anuvad::record::TranslationRecord = serde_json::from_slice(&out.stdout).unwrap();
    let json = |x: &anuvad::record::Translation| serde_json::to_value(x).unwrap();
    assert_eq!(json(&printed.translation), json(&t.translation));
    assert_eq!(printed.stats, t.stats);

    let s = pipeline.summarize(&article, &mut Silent).unwrap();
    assert_eq!(s.summary.target_words, 20, "the tiny card's medium length");

    let english = "Rain in Delhi\nNew Delhi, March 13. It rained. It will rain for 2 days.\nThe government spoke.\nPhoto: PTI\n";
    let r = pipeline.review(&article, english, &mut Silent).unwrap();
    assert_eq!(r.translation.paragraphs.len(), 4);
    assert!(
        r.translation
            .sentences()
            .all(|s| s.source_sentences.is_some())
    );

    // Bad input is an error, not a panic.
    let err = Article::new("empty.txt", " \n", &InputRules::default()).unwrap_err();
    assert!(err.to_string().contains("empty.txt"), "{err}");
}

/// Counts the calls it passes on.
struct Counting {
    inner: Box<dyn Engine>,
    calls: usize,
}

impl Engine for Counting {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }
    fn count_tokens(&self, text: &str) -> anuvad::Result<usize> {
        self.inner.count_tokens(text)
    }
    fn score(&mut self, prefix: &str, body: &str, continuation: &str) -> anuvad::Result<Vec<f32>> {
        self.inner.score(prefix, body, continuation)
    }
    fn generate(
        &mut self,
        reqs: &[Request],
        width: usize,
        on_token: &mut dyn FnMut() -> anuvad::Result<()>,
    ) -> anuvad::Result<Vec<Generation>> {
        self.calls += 1;
        self.inner.generate(reqs, width, on_token)
    }
}

#[test]
fn an_engine_of_ones_own_runs_the_same_pipeline() {
    let home = Home::new("library-engine");
    let hub = offline();
    let plan = Plan::resolve(
        &choice(&home),
        &Options::default(),
        Uses::TRANSLATE,
        &hub,
        &mut Silent,
    )
    .unwrap();
    let found = plan.translator.clone().unwrap();
    let engine = Counting {
        inner: anuvad::pipeline::load_engine(&found, &hub, &mut Silent).unwrap(),
        calls: 0,
    };
    let mut wrapped = Pipeline::with_engine(Box::new(engine), found.resolved.card, found.settings);
    let mut plain = plan.load(&hub, &mut Silent).unwrap();
    let article = Article::new("article.txt", ARTICLE, &InputRules::default()).unwrap();
    let a = wrapped.translate(&article, &mut Silent).unwrap();
    let b = plain.translate(&article, &mut Silent).unwrap();
    assert_eq!(a.translation, b.translation);
    assert_eq!(a.stats, b.stats);
}
