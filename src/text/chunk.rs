//! Token-budgeted chunks of whole sentences, for translation (`plan`) and for the map
//! step of long summaries (`plan_spans`).
//!
//! Token counts come from a callback so this module needs no tokenizer (tests count
//! words or chars). Packing is greedy: it keeps adding the next sentence while the
//! result still fits. A sentence that alone exceeds the budget is cut into pieces at
//! clause boundaries, then at spaces; a single word larger than the budget stays whole.

use super::segment::{Document, ParagraphKind, clause_spans, word_spans};
use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Chunk {
    /// Index into `doc.paragraphs`.
    pub paragraph: usize,
    /// Sentence indices within that paragraph.
    pub sentences: Range<usize>,
    /// Some((part, parts)) when one over-long sentence was split into clause pieces:
    /// this chunk is piece `part` of `parts` of sentence `sentences.start` (then
    /// sentences.len() == 1)
    pub piece: Option<(usize, usize)>,
    /// The chunk's source: its sentences (or the piece) joined by '\n', one per line.
    pub text: String,
    /// count(text) as measured by the callback.
    pub tokens: usize,
}

/// Translation chunks: never cross a paragraph; at most `max_sentences` sentences; the
/// sum of sentence token counts ≤ `budget` unless a single sentence alone is larger,
/// in which case it is split by `split_clauses` into pieces, and any piece still larger
/// than `budget` is split further at spaces (word boundaries), and a single word larger
/// than the budget stays whole (never cut inside a word, never dropped). Every sentence
/// of every paragraph lands in exactly one chunk (or is covered exactly by its pieces,
/// in order); chunk order follows document order. Paragraphs with no sentences produce
/// no chunk.
///
/// Besides the sum of sentence counts, `count(text)` of a multi-sentence chunk is also
/// kept ≤ `budget` (the joining newlines may cost tokens), so `tokens ≤ budget` holds
/// for every chunk except a lone unsplittable word. Such a word-sized sentence comes
/// back as an ordinary chunk with `piece: None`. `budget == 0` and
/// `max_sentences == 0` are treated as 1.
pub fn plan(
    doc: &Document,
    max_sentences: usize,
    budget: usize,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let max_sentences = max_sentences.max(1);
    let budget = budget.max(1);
    let mut chunks = Vec::new();
    for (p, para) in doc.paragraphs.iter().enumerate() {
        let sentences = &para.sentences;
        let mut i = 0;
        while i < sentences.len() {
            let first = count(&sentences[i]);
            if first > budget {
                let pieces = pieces(&sentences[i], budget, count);
                let parts = pieces.len();
                for (part, text) in pieces.into_iter().enumerate() {
                    chunks.push(Chunk {
                        paragraph: p,
                        sentences: i..i + 1,
                        piece: (parts > 1).then_some((part, parts)),
                        tokens: count(&text),
                        text,
                    });
                }
                i += 1;
                continue;
            }
            let (mut end, mut sum, mut text, mut tokens) =
                (i + 1, first, sentences[i].clone(), first);
            while end < sentences.len() && end - i < max_sentences {
                let next = &sentences[end];
                sum = sum.saturating_add(count(next));
                let candidate = format!("{text}\n{next}");
                let candidate_tokens = count(&candidate);
                if sum > budget || candidate_tokens > budget {
                    break;
                }
                (text, tokens, end) = (candidate, candidate_tokens, end + 1);
            }
            chunks.push(Chunk {
                paragraph: p,
                sentences: i..end,
                piece: None,
                text,
                tokens,
            });
            i = end;
        }
    }
    chunks
}

/// Spans for the map step of map-reduce summaries: groups of whole paragraphs (joined
/// with '\n') whose token count ≤ budget; a paragraph bigger than budget is split into
/// groups of whole sentences (and over-long sentences into pieces as above). Returns
/// the texts in document order; concatenating them covers every sentence exactly once.
///
/// A paragraph's text here is its sentences joined with ' '. Packing runs across
/// paragraph edges, also around a split paragraph, so a short heading or credit joins
/// the text next to it instead of becoming a span (and a model call) of its own: within
/// a span, paragraphs are separated by '\n' and sentences of one paragraph by ' '.
/// A heading is packed with the text after it. Only the pieces of an over-long
/// sentence always stand alone.
pub fn plan_spans(doc: &Document, budget: usize, count: &dyn Fn(&str) -> usize) -> Vec<String> {
    let budget = budget.max(1);
    let mut spans = Vec::new();
    let mut packer = Packer {
        budget,
        count,
        current: None,
        heading: None,
    };
    for para in doc.paragraphs.iter().filter(|p| !p.sentences.is_empty()) {
        let text = para.sentences.join(" ");
        if count(&text) <= budget {
            if para.kind == ParagraphKind::Heading {
                packer.hold_heading(text, &mut spans);
            } else {
                packer.add(text, "\n", &mut spans);
            }
            continue;
        }
        for (k, sentence) in para.sentences.iter().enumerate() {
            if count(sentence) <= budget {
                let joiner = if k == 0 { "\n" } else { " " };
                packer.add(sentence.clone(), joiner, &mut spans);
            } else {
                packer.flush(&mut spans);
                spans.extend(pieces(sentence, budget, count));
            }
        }
    }
    packer.flush(&mut spans);
    spans
}

/// Greedy packing of texts that each fit the budget: appends the next text (after a
/// joiner) while the result still fits, else moves the current group to `out`.
///
/// A heading belongs with the text it introduces, not at the end of the group before
/// it, so it is held back and packed as one unit with whatever comes next.
struct Packer<'a> {
    budget: usize,
    count: &'a dyn Fn(&str) -> usize,
    current: Option<String>,
    heading: Option<String>,
}

impl Packer<'_> {
    fn hold_heading(&mut self, heading: String, out: &mut Vec<String>) {
        // Two headings in a row: the first is packed like any paragraph.
        if let Some(previous) = self.heading.replace(heading) {
            self.pack(previous, "\n", out);
        }
    }

    fn add(&mut self, text: String, joiner: &str, out: &mut Vec<String>) {
        let Some(heading) = self.heading.take() else {
            return self.pack(text, joiner, out);
        };
        let together = format!("{heading}\n{text}");
        if (self.count)(&together) <= self.budget {
            self.pack(together, "\n", out);
        } else {
            // Heading and text do not fit in one span: at least start a new one.
            self.flush(out);
            self.pack(heading, "\n", out);
            self.pack(text, joiner, out);
        }
    }

    fn pack(&mut self, text: String, joiner: &str, out: &mut Vec<String>) {
        match self.current.take() {
            None => self.current = Some(text),
            Some(current) => {
                let candidate = format!("{current}{joiner}{text}");
                if (self.count)(&candidate) <= self.budget {
                    self.current = Some(candidate);
                } else {
                    out.push(current);
                    self.current = Some(text);
                }
            }
        }
    }

    fn flush(&mut self, out: &mut Vec<String>) {
        if let Some(heading) = self.heading.take() {
            self.pack(heading, "\n", out);
        }
        out.extend(self.current.take());
    }
}

/// Cuts one over-long sentence into pieces that fit the budget, in order; joined with
/// ' ' they give back the sentence (exactly, for normalized text). Clauses that fit are
/// units; a clause that does not is broken into words. Neighbouring units are then
/// merged back together as long as the merged text still fits, so pieces are as large
/// as the budget allows.
fn pieces(sentence: &str, budget: usize, count: &dyn Fn(&str) -> usize) -> Vec<String> {
    let mut units: Vec<Range<usize>> = Vec::new();
    for clause in clause_spans(sentence) {
        if count(&sentence[clause.clone()]) <= budget {
            units.push(clause);
        } else {
            units.extend(word_spans(sentence, clause));
        }
    }
    let mut merged: Vec<Range<usize>> = Vec::new();
    for unit in units {
        match merged.last_mut() {
            Some(last) if count(&sentence[last.start..unit.end]) <= budget => last.end = unit.end,
            _ => merged.push(unit),
        }
    }
    if merged.is_empty() {
        // Blank sentence (only from a hand-built Document): keep it as it is.
        return vec![sentence.to_string()];
    }
    merged
        .into_iter()
        .map(|r| sentence[r].to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::segment::{normalize, segment};

    const ARTICLE: &str = "लोकसभा में विपक्ष का हंगामा, कार्यवाही स्थगित\n\
        \n\
        नई दिल्ली, 13 मार्च (भाषा)\n\
        संसद के बजट सत्र के दूसरे चरण में बुधवार को लोकसभा की कार्यवाही दो बार स्थगित करनी पड़ी। विपक्षी सांसदों ने महंगाई और बेरोजगारी के मुद्दे पर नारेबाजी की। लोकसभा अध्यक्ष ने कहा, \"सदन को चलने दीजिए।\" डॉ. शर्मा ने बताया कि सरकार चर्चा के लिए तैयार है। विपक्ष के नेता ने आरोप लगाया कि सरकार ने पिछले दस वर्षों में किसानों, मजदूरों, छोटे व्यापारियों और युवाओं की अनदेखी की है, महंगाई दर 3.5 प्रतिशत से बढ़कर 6.2 प्रतिशत हो गई है, बेरोजगारी रिकॉर्ड स्तर पर है और सरकार इन सवालों का जवाब देने के बजाय विपक्ष की आवाज दबाने की कोशिश कर रही है जबकि लोकतंत्र में संसद ही वह जगह है जहां जनता के सवाल उठाए जाने चाहिए।\n\
        फोटो: पीटीआई\n\
        \n\
        मौसम विभाग ने अगले 48 घंटों में उत्तर भारत के कई हिस्सों में भारी बारिश की चेतावनी जारी की है। दिल्ली में बुधवार को अधिकतम तापमान १२.५ डिग्री कम दर्ज किया गया। पहाड़ी इलाकों में बर्फबारी हो सकती है! क्या किसानों की फसल बचेगी? विशेषज्ञों का कहना है कि गेहूं की फसल को 2 1/2 हफ्ते तक नुकसान का खतरा बना रहेगा।\n\
        \n\
        क्रिकेट\n\
        भारत ने तीसरे टेस्ट मैच में ऑस्ट्रेलिया को 7 विकेट से हराकर श्रृंखला में 2-1 की बढ़त बना ली। कप्तान ने 112 रन की शानदार पारी खेली... और टीम को जीत दिलाई। मैच के बाद उन्होंने कहा, \"यह जीत पूरे देश की है।\" अगला मैच 20 मार्च, 2025 को अहमदाबाद में खेला जाएगा।";

    type Counter<'a> = &'a dyn Fn(&str) -> usize;

    fn words(text: &str) -> usize {
        text.split_whitespace().count()
    }

    fn chars(text: &str) -> usize {
        text.chars().count()
    }

    fn doc() -> Document {
        segment(&normalize(ARTICLE))
    }

    /// Everything `plan` promises, checked for one plan.
    fn check_plan(
        doc: &Document,
        chunks: &[Chunk],
        max_sentences: usize,
        budget: usize,
        count: &dyn Fn(&str) -> usize,
    ) {
        let (max_sentences, budget) = (max_sentences.max(1), budget.max(1));
        let ctx = format!("max_sentences={max_sentences} budget={budget}");
        // Sentences covered, in order, each once: (paragraph, sentence) pairs.
        let mut covered: Vec<(usize, usize)> = Vec::new();
        let mut k = 0;
        while k < chunks.len() {
            let c = &chunks[k];
            assert_eq!(c.tokens, count(&c.text), "{ctx}");
            let para = &doc.paragraphs[c.paragraph];
            assert!(!c.sentences.is_empty() && c.sentences.end <= para.sentences.len());
            match c.piece {
                None => {
                    let sentences = &para.sentences[c.sentences.clone()];
                    assert_eq!(c.text, sentences.join("\n"), "{ctx}");
                    assert!(sentences.len() <= max_sentences, "{ctx}: {c:?}");
                    let sum: usize = sentences.iter().map(|s| count(s)).sum();
                    if sentences.len() > 1 || c.tokens > budget {
                        // Over budget only as a lone sentence that cannot be cut: one word.
                        assert!(
                            (sum <= budget && c.tokens <= budget)
                                || (sentences.len() == 1 && words(&c.text) == 1),
                            "{ctx}: {c:?}"
                        );
                    }
                    covered.extend(c.sentences.clone().map(|s| (c.paragraph, s)));
                    k += 1;
                }
                Some((0, parts)) => {
                    assert!(parts > 1, "{ctx}");
                    let group = &chunks[k..k + parts];
                    let sentence = &para.sentences[c.sentences.start];
                    assert!(count(sentence) > budget, "split only when too long: {ctx}");
                    for (part, piece) in group.iter().enumerate() {
                        assert_eq!(piece.piece, Some((part, parts)), "{ctx}");
                        assert_eq!(
                            (piece.paragraph, &piece.sentences),
                            (c.paragraph, &c.sentences)
                        );
                        assert!(
                            piece.tokens <= budget || words(&piece.text) == 1,
                            "{ctx}: {piece:?}"
                        );
                    }
                    let rejoined: Vec<&str> = group.iter().map(|p| p.text.as_str()).collect();
                    assert_eq!(rejoined.join(" "), *sentence, "{ctx}");
                    covered.push((c.paragraph, c.sentences.start));
                    k += parts;
                }
                Some(other) => panic!("{ctx}: pieces must start at part 0, got {other:?}"),
            }
        }
        let all: Vec<(usize, usize)> = doc
            .paragraphs
            .iter()
            .enumerate()
            .flat_map(|(p, para)| (0..para.sentences.len()).map(move |s| (p, s)))
            .collect();
        assert_eq!(covered, all, "{ctx}");
    }

    fn ink(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    fn check_spans(doc: &Document, spans: &[String], budget: usize, count: &dyn Fn(&str) -> usize) {
        let budget = budget.max(1);
        let all: String = doc
            .paragraphs
            .iter()
            .flat_map(|p| p.sentences.clone())
            .collect();
        assert_eq!(ink(&spans.concat()), ink(&all), "budget={budget}");
        for span in spans {
            assert!(
                count(span) <= budget || words(span) == 1,
                "budget={budget}: {span:?}"
            );
        }
    }

    #[test]
    fn the_test_article_has_what_the_tests_need() {
        let doc = doc();
        assert_eq!(doc.paragraphs.len(), 7);
        let longest = doc.paragraphs[2].sentences.iter().map(|s| words(s)).max();
        assert!(longest > Some(60), "one very long sentence: {longest:?}");
        assert_eq!(doc.paragraphs[4].sentences.len(), 5);
    }

    #[test]
    fn generous_budget_packs_whole_paragraphs_up_to_max_sentences() {
        let doc = doc();
        let chunks = plan(&doc, 3, 1000, &words);
        let shape: Vec<(usize, Range<usize>)> = chunks
            .iter()
            .map(|c| (c.paragraph, c.sentences.clone()))
            .collect();
        assert_eq!(
            shape,
            [
                (0, 0..1),
                (1, 0..1),
                (2, 0..3),
                (2, 3..5),
                (3, 0..1),
                (4, 0..3),
                (4, 3..5),
                (5, 0..1),
                (6, 0..3),
                (6, 3..4)
            ]
        );
        assert_eq!(
            chunks[5].text,
            "मौसम विभाग ने अगले 48 घंटों में उत्तर भारत के कई हिस्सों में भारी बारिश की चेतावनी जारी की है।\n\
             दिल्ली में बुधवार को अधिकतम तापमान १२.५ डिग्री कम दर्ज किया गया।\n\
             पहाड़ी इलाकों में बर्फबारी हो सकती है!"
        );
        check_plan(&doc, &chunks, 3, 1000, &words);
    }

    #[test]
    fn over_long_sentence_is_split_into_clause_pieces() {
        let doc = doc();
        let chunks = plan(&doc, 5, 25, &words);
        let pieces: Vec<&Chunk> = chunks.iter().filter(|c| c.piece.is_some()).collect();
        assert!(pieces.len() >= 3, "{pieces:#?}");
        assert!(
            pieces
                .iter()
                .all(|c| c.paragraph == 2 && c.sentences == (4..5))
        );
        // The first piece ends at a clause boundary, not mid-phrase.
        assert!(pieces[0].text.ends_with(','), "{:?}", pieces[0].text);
        check_plan(&doc, &chunks, 5, 25, &words);
    }

    #[test]
    fn single_word_larger_than_the_budget_stays_whole() {
        let doc = segment("अंतर्राष्ट्रीयकरण। हां।");
        let chunks = plan(&doc, 5, 3, &chars);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].text, "अंतर्राष्ट्रीयकरण।");
        assert_eq!(chunks[0].piece, None);
        assert!(chunks[0].tokens > 3);
        check_plan(&doc, &chunks, 5, 3, &chars);
    }

    #[test]
    fn zero_budget_and_zero_max_sentences_act_as_one() {
        let doc = doc();
        let zero = plan(&doc, 0, 0, &words);
        assert_eq!(zero, plan(&doc, 1, 1, &words));
        check_plan(&doc, &zero, 0, 0, &words);
        assert!(zero.iter().all(|c| c.tokens == 1));
        let spans = plan_spans(&doc, 0, &words);
        assert_eq!(spans, plan_spans(&doc, 1, &words));
    }

    #[test]
    fn empty_documents_and_paragraphs_give_no_chunks() {
        assert!(plan(&segment(""), 3, 100, &words).is_empty());
        assert!(plan_spans(&segment(""), 100, &words).is_empty());
        let mut doc = segment("पहला।\nदूसरा।");
        doc.paragraphs[0].sentences.clear();
        let chunks = plan(&doc, 3, 100, &words);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].paragraph, 1);
    }

    #[test]
    fn invariants_hold_for_many_budgets_and_sentence_limits() {
        let doc = doc();
        let counters: [(&str, Counter); 2] = [("words", &words), ("chars", &chars)];
        for (name, count) in counters {
            for budget in 1..200 {
                for max_sentences in 1..=5 {
                    let chunks = plan(&doc, max_sentences, budget, count);
                    check_plan(&doc, &chunks, max_sentences, budget, count);
                }
                let spans = plan_spans(&doc, budget, count);
                check_spans(&doc, &spans, budget, count);
                assert!(!spans.is_empty(), "{name} {budget}");
            }
        }
    }

    #[test]
    fn spans_group_whole_paragraphs_when_they_fit() {
        let doc = doc();
        let spans = plan_spans(&doc, 10_000, &words);
        let all: Vec<String> = doc
            .paragraphs
            .iter()
            .map(|p| p.sentences.join(" "))
            .collect();
        assert_eq!(spans, [all.join("\n")]);

        // 40 words: the politics paragraph (~120 words) is cut into sentence groups;
        // the short heading and dateline before it lead the first group, and the
        // one-word cricket heading leads the group of the text it heads.
        let spans = plan_spans(&doc, 40, &words);
        assert!(spans[0].starts_with(&format!("{}\n{}\n", all[0], all[1])));
        assert!(
            spans.iter().any(|s| s.starts_with("क्रिकेट\nभारत ने")),
            "{spans:#?}"
        );
        assert!(spans.iter().all(|s| words(s) > 2), "{spans:#?}");
        check_spans(&doc, &spans, 40, &words);
    }

    #[test]
    fn chunk_serializes_with_a_plain_range() {
        let chunk = &plan(&segment("भारत जीता।"), 1, 10, &words)[0];
        assert_eq!(
            serde_json::to_string(chunk).unwrap(),
            r#"{"paragraph":0,"sentences":{"start":0,"end":1},"piece":null,"text":"भारत जीता।","tokens":2}"#
        );
    }

    #[test]
    fn odd_documents_never_panic() {
        let texts = [
            "",
            "।",
            "....",
            "\u{094D}",
            "एक\n\n\nदो",
            "शब्द शब्द शब्द शब्द शब्द शब्द शब्द शब्द शब्द शब्द शब्द शब्द शब्द शब्द, और और और।",
        ];
        for text in texts {
            let doc = segment(&normalize(text));
            for budget in 0..8 {
                for max_sentences in 0..3 {
                    for count in [&words as Counter, &chars] {
                        let chunks = plan(&doc, max_sentences, budget, count);
                        check_plan(&doc, &chunks, max_sentences, budget, count);
                        check_spans(&doc, &plan_spans(&doc, budget, count), budget, count);
                    }
                }
            }
        }
        // A hand-built document with a blank sentence and a zero-cost counter.
        let mut doc = segment("एक। दो।");
        doc.paragraphs[0].sentences.push(String::new());
        let chunks = plan(&doc, 2, 1, &|_| 0);
        assert_eq!(chunks.iter().map(|c| c.sentences.len()).sum::<usize>(), 3);
    }
}
