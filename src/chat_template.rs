//! Prompts for an instruct GGUF that no card describes, made from the model's own chat
//! template (`tokenizer.chat_template`, the Jinja text Hugging Face's
//! `apply_chat_template` renders), with minijinja: the same words
//! (models/chat/instruct.toml) reach a Qwen, Gemma or Llama model in its own turn
//! markup, so any instruct GGUF of a supported architecture runs without a card. A card
//! (built in, or `--card`) still wins: its prompts are used as written.
//!
//! A card's prompt is a `prefix` (the same for every chunk, its KV cache computed once)
//! and a `body` with `{placeholders}` rendered per chunk. The template renders one
//! conversation whose user message is the instruction, a marker, then the input with its
//! placeholders as plain text (message contents are data to Jinja, never template):
//! everything before the marker is the prefix, the rest the body.

use crate::card::{ModelCard, Prompts, Template};
use minijinja::{Environment, ErrorKind, context};
use serde::{Deserialize, Serialize};

/// Where the fixed part of a user message ends; a private-use character no template or
/// tokenizer gives a meaning to.
const MARK: &str = "\u{E000}anuvad-input\u{E000}";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatPrompts {
    system: String,
    translate: Message,
    summarize: Message,
    notes: Message,
    reduce: Message,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    instruction: String,
    input: String,
}

#[derive(Serialize)]
struct Turn<'a> {
    role: &'a str,
    content: String,
}

/// The GGUF's chat template and the texts of its special tokens.
pub struct ChatTemplate<'a> {
    pub template: &'a str,
    pub bos_token: &'a str,
    pub eos_token: &'a str,
}

impl ChatTemplate<'_> {
    /// `messages` through the template, as `apply_chat_template` would render them.
    fn render(&self, messages: &[Turn], add_generation_prompt: bool) -> Result<String, String> {
        let mut env = Environment::new();
        // Hugging Face renders with trim_blocks and lstrip_blocks on.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // Python string methods (`.strip()`, `.startswith()`…) that templates call.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        // Llama 3.x templates put today's date in the system turn: a fixed one keeps the
        // same input giving the same output.
        env.add_function("strftime_now", |_format: String| "01 Jan 2025".to_string());
        env.add_template("chat", self.template)
            .map_err(|e| format!("the chat template does not parse: {e}"))?;
        let template = env.get_template("chat").map_err(|e| e.to_string())?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos_token,
                eos_token => self.eos_token,
            })
            .map_err(|e| format!("the chat template fails: {e}"))
    }

    /// One task's prompt: system and user turns (the system text folded into the user
    /// turn for templates that refuse a system role), cut at the marker.
    fn prompt(&self, system: &str, message: &Message) -> Result<Template, String> {
        let user = format!("{}{MARK}{}", message.instruction, message.input);
        let with_system = [
            Turn {
                role: "system",
                content: system.to_string(),
            },
            Turn {
                role: "user",
                content: user.clone(),
            },
        ];
        let text = match self.render(&with_system, true) {
            Ok(t) => t,
            Err(_) => self.render(
                &[Turn {
                    role: "user",
                    content: format!("{system}\n\n{user}"),
                }],
                true,
            )?,
        };
        let Some((prefix, body)) = text.split_once(MARK) else {
            return Err("the chat template drops the user's message".into());
        };
        if body.contains(MARK) {
            return Err("the chat template repeats the user's message".into());
        }
        // The tokenizer adds BOS itself where the model wants one.
        let prefix = match prefix.strip_prefix(self.bos_token) {
            Some(rest) if !self.bos_token.is_empty() => rest,
            _ => prefix,
        };
        Ok(Template {
            prefix: prefix.to_string(),
            body: body.to_string(),
        })
    }

    /// The text that ends an assistant turn (`<|im_end|>`, `<end_of_turn>`,
    /// `<|eot_id|>`): what the template writes right after an assistant message, up to
    /// the first whitespace.
    fn end_of_turn(&self) -> Option<String> {
        let turns = [
            Turn {
                role: "user",
                content: "hello".into(),
            },
            Turn {
                role: "assistant",
                content: MARK.into(),
            },
        ];
        let text = self.render(&turns, false).ok()?;
        let after = text.split_once(MARK)?.1;
        let end: String = after
            .trim_start_matches([' ', '\t'])
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        (!end.is_empty()).then_some(end)
    }
}

/// `base` (an instruct card, for its settings: chunk sizes, summary method, budgets)
/// with prompts made from the model's own chat template and its end-of-turn token as a
/// stop token. `is_token` says whether a text is one token of the model's vocabulary.
pub fn instruct_card(
    base: &ModelCard,
    chat: &ChatTemplate,
    is_token: &dyn Fn(&str) -> bool,
) -> Result<ModelCard, String> {
    let words: ChatPrompts = toml::from_str(include_str!("../models/chat/instruct.toml"))
        .map_err(|e| format!("models/chat/instruct.toml: {e}"))?;
    let prompt = |m: &Message| chat.prompt(&words.system, m);
    let mut card = base.clone();
    card.instruct = true;
    card.prompts = Prompts {
        translate: prompt(&words.translate)?,
        summarize: prompt(&words.summarize)?,
        notes: prompt(&words.notes)?,
        reduce: prompt(&words.reduce)?,
        translate_hints: None,
        channel: None,
    };
    card.generation.stop.clear();
    card.generation.stop_tokens = chat
        .end_of_turn()
        .filter(|t| t != chat.eos_token && is_token(t))
        .into_iter()
        .collect();
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Qwen 2.5's template, cut to what a conversation without tools uses.
    const CHATML: &str = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}{%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\") %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

    /// Gemma's shape: BOS in the text, no system role (folded into the first user turn
    /// by the real template; refused here, as Gemma 2's does).
    const GEMMA: &str = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";

    /// Gemma 3's constructs: the system text as a prefix of the first user turn,
    /// `messages[1:]`, `is string`, `| trim`, a conditional expression.
    const GEMMA3: &str = "{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n{%- if messages[0]['content'] is string -%}{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}{%- endif -%}{%- set loop_messages = messages[1:] -%}\n{%- else -%}{%- set first_user_prefix = \"\" -%}{%- set loop_messages = messages -%}{%- endif -%}\n{%- for message in loop_messages -%}\n{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}{{ raise_exception(\"Conversation roles must alternate\") }}{%- endif -%}\n{%- set role = \"model\" if message['role'] == 'assistant' else message['role'] -%}\n{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}\n{%- endfor -%}\n{%- if add_generation_prompt -%}{{'<start_of_turn>model\n'}}{%- endif -%}";

    fn base() -> ModelCard {
        crate::card::load_all(None)
            .unwrap()
            .into_iter()
            .find(|c| c.id == "qwen2.5-coder-0.5b-instruct")
            .expect("a built-in instruct card")
    }

    #[test]
    fn chatml_prompts_split_into_a_fixed_prefix_and_a_body_with_placeholders() {
        let chat = ChatTemplate {
            template: CHATML,
            bos_token: "<|endoftext|>",
            eos_token: "<|im_end|>",
        };
        let card = instruct_card(&base(), &chat, &|_| true).unwrap();
        let t = &card.prompts.translate;
        assert!(t.prefix.starts_with("<|im_start|>system\nYou are a careful news translator and editor.<|im_end|>\n<|im_start|>user\nYou translate Hindi news"), "{}", t.prefix);
        assert!(t.prefix.ends_with("Hindi:\n"), "{:?}", t.prefix);
        assert_eq!(t.body, "{source}<|im_end|>\n<|im_start|>assistant\n");
        assert_eq!(
            t.render(&[("source", "नमस्ते")]),
            "नमस्ते<|im_end|>\n<|im_start|>assistant\n"
        );
        assert!(
            card.prompts
                .summarize
                .body
                .contains("about {words} words.<|im_end|>")
        );
        assert!(card.prompts.reduce.body.starts_with("Notes:\n{notes}"));
        // The EOS is already a stop; nothing else ends a turn here.
        assert!(
            card.generation.stop_tokens.is_empty(),
            "{:?}",
            card.generation.stop_tokens
        );
        assert!(card.generation.stop.is_empty());
    }

    #[test]
    fn a_template_without_a_system_role_gets_it_in_the_user_turn_and_its_own_stop_token() {
        let chat = ChatTemplate {
            template: GEMMA,
            bos_token: "<bos>",
            eos_token: "<eos>",
        };
        let card = instruct_card(&base(), &chat, &|t| t == "<end_of_turn>").unwrap();
        let t = &card.prompts.translate;
        // BOS is the tokenizer's to add, not the prompt's.
        assert!(t.prefix.starts_with("<start_of_turn>user\nYou are a careful news translator and editor.\n\nYou translate"), "{}", t.prefix);
        assert_eq!(t.body, "{source}<end_of_turn>\n<start_of_turn>model\n");
        assert_eq!(
            card.generation.stop_tokens,
            vec!["<end_of_turn>".to_string()]
        );
        // Gemma 3 takes the system text itself, as a prefix of the first user turn.
        let chat = ChatTemplate {
            template: GEMMA3,
            bos_token: "<bos>",
            eos_token: "<eos>",
        };
        let card3 = instruct_card(&base(), &chat, &|t| t == "<end_of_turn>").unwrap();
        assert_eq!(card3.prompts.translate.prefix, t.prefix);
        assert_eq!(card3.prompts.translate.body, t.body);
        assert_eq!(card3.generation.stop_tokens, card.generation.stop_tokens);
        // A turn end that is not one token of the vocabulary is no stop token.
        let card = instruct_card(&base(), &chat, &|_| false).unwrap();
        assert!(card.generation.stop_tokens.is_empty());
    }

    #[test]
    fn broken_templates_are_errors_not_panics() {
        for (template, expected) in [
            ("{% for m in messages %}", "does not parse"),
            ("{{ raise_exception('no') }}", "fails"),
            (
                "{% for m in messages %}{{ m.role }}{% endfor %}",
                "drops the user's message",
            ),
            (
                "{% for m in messages %}{{ m.content }}{{ m.content }}{% endfor %}",
                "repeats",
            ),
        ] {
            let chat = ChatTemplate {
                template,
                bos_token: "",
                eos_token: "",
            };
            let err = instruct_card(&base(), &chat, &|_| true).expect_err(template);
            assert!(err.contains(expected), "{template}: {err}");
        }
    }
}
