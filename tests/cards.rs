//! Model cards from the user's `$ANUVAD_HOME/models`: a broken one stops only the
//! commands that ask for it, and every model error says what to run to fix it.

mod common;

use common::tiny::{CARD, Home, stderr};

fn code(o: &std::process::Output) -> Option<i32> {
    o.status.code()
}

#[test]
fn a_broken_user_card_affects_only_the_commands_that_ask_for_it() {
    let home = Home::new("cards-broken");
    // Not TOML at all: it stands for its file name.
    std::fs::write(
        home.path("models/garbled.toml"),
        "id = \"garbled\nthis is not toml [",
    )
    .unwrap();
    // Valid TOML, an architecture nothing runs: it stands for its id.
    let mistral = CARD
        .replace("id = \"tiny\"", "id = \"tiny-mistral\"")
        .replace("architecture = \"gemma3\"", "architecture = \"mistral\"");
    assert_ne!(
        mistral,
        CARD.replace("id = \"tiny\"", "id = \"tiny-mistral\"")
    );
    std::fs::write(home.path("models/mistral.toml"), mistral).unwrap();

    let article = home.path("article.txt");
    let article = article.to_str().unwrap();
    let out = home.run(&["translate", article]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let gguf = home.path("models/tiny-gemma3.gguf");
    let out = home.run(&[
        "translate",
        article,
        "--model",
        gguf.to_str().unwrap(),
        "--card",
        "tiny",
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let list = home.run(&["models", "list"]);
    assert_eq!(code(&list), Some(0), "{}", stderr(&list));
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("garbled") && l.contains("broken"))
            && listed
                .lines()
                .any(|l| l.starts_with("tiny-mistral") && l.contains("broken")),
        "{listed}"
    );

    let out = home.run(&["translate", article, "--model", "tiny-mistral"]);
    assert_eq!(code(&out), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("mistral.toml")
            && stderr(&out).contains("architecture = \"mistral\""),
        "{}",
        stderr(&out)
    );
    let out = home.run(&["models", "path", "garbled"]);
    assert_eq!(code(&out), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("garbled.toml"), "{}", stderr(&out));
}

#[test]
fn a_user_card_with_a_value_out_of_bounds_is_refused_naming_the_file_and_key() {
    let home = Home::new("cards-bounds");
    let article = home.path("article.txt");
    let cases = [
        (
            "max_new_tokens = 12",
            "max_new_tokens = 0",
            "generation.max_new_tokens",
        ),
        ("stop = [\"\\n\"]", "stop = [\"\"]", "generation.stop"),
        (
            "[generation]",
            "[generation]\noutput_ratio = nan",
            "generation.output_ratio",
        ),
        (
            "[quality]",
            "[quality]\ntemperature = nan",
            "quality.temperature",
        ),
    ];
    for (from, to, key) in cases {
        let card = CARD.replace(from, to);
        assert_ne!(card, CARD, "{from}");
        std::fs::write(home.path("models/tiny.toml"), card).unwrap();
        let out = home.run(&["translate", article.to_str().unwrap()]);
        assert_eq!(code(&out), Some(5), "{key}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("tiny.toml") && stderr(&out).contains(key),
            "{key}: {}",
            stderr(&out)
        );
    }
}

/// The `…` spans of a message: each must be a command to run, not prose.
fn commands_in(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

#[test]
fn model_errors_name_a_command_to_run_never_a_garbled_hint() {
    let home = Home::new("cards-hints");
    let article = home.path("article.txt");
    let junk = home.path("junk.gguf");
    std::fs::write(&junk, b"not a gguf at all").unwrap();
    let runs: [&[&str]; 3] = [
        &["--model", "/no/such/model.gguf"],
        &["--model", junk.to_str().unwrap()],
        &["--model", "gemma3-270m"],
    ];
    for args in runs {
        let mut all = vec!["translate", article.to_str().unwrap()];
        all.extend_from_slice(args);
        let mut cmd = home.command(&all);
        // An empty home and cache: the default card's file is not here.
        cmd.env("HF_HOME", home.path("hf"));
        let out = cmd.output().unwrap();
        let message = stderr(&out);
        assert_eq!(code(&out), Some(5), "{args:?}: {message}");
        let commands = commands_in(&message);
        assert!(!commands.is_empty(), "{args:?}: no command in {message}");
        for c in commands {
            assert!(
                c.starts_with("anuvad ") || c.starts_with("scripts/"),
                "{args:?}: `{c}` is not a command: {message}"
            );
        }
    }
}
