//! Devanagari → Latin transliteration in Indian-English spelling, and
//! phonetic matching of names.
//!
//! Used to check that proper names (places, people, organisations) in a
//! Hindi source survive into an English translation. The pipeline for one
//! Hindi word is:
//!
//! 1. normalise nukta letters and chandrabindu (`normalize`);
//! 2. look the word up in a short table of names whose English spelling is
//!    not phonetic (`EXCEPTIONS`);
//! 3. split off a compound prefix (श्री, महा) and a common place-name ending
//!    such as -पुर or -आबाद, which are separate morphemes for schwa deletion
//!    (`PREFIXES`, `ENDINGS`);
//! 4. parse the stem into syllable units (`parse`);
//! 5. delete the inherent vowels that Hindi does not pronounce
//!    (`delete_schwas`);
//! 6. render the units in Latin letters (`render`).
//!
//! Matching ([`same_name`]) compares spelling-insensitive keys
//! ([`phonetic_key`]) with an edit distance in which vowel-level differences
//! are cheap and consonant-level differences are expensive.

// ---------------------------------------------------------------------------
// Devanagari characters
// ---------------------------------------------------------------------------

const NUKTA: char = '\u{093C}';
const VIRAMA: char = '\u{094D}';
const ANUSVARA: char = '\u{0902}';
const CHANDRABINDU: char = '\u{0901}';
const VISARGA: char = '\u{0903}';

/// Base letter of a precomposed nukta letter (क़ = क + ़).
fn nukta_base(c: char) -> Option<char> {
    Some(match c {
        '\u{0929}' => 'न',
        '\u{0931}' => 'र',
        '\u{0934}' => 'ळ',
        '\u{0958}' => 'क',
        '\u{0959}' => 'ख',
        '\u{095A}' => 'ग',
        '\u{095B}' => 'ज',
        '\u{095C}' => 'ड',
        '\u{095D}' => 'ढ',
        '\u{095E}' => 'फ',
        '\u{095F}' => 'य',
        _ => return None,
    })
}

/// One canonical spelling per word, so that tables and endings match
/// whichever way the text was typed: precomposed nukta letters become base +
/// nukta, chandrabindu becomes anusvara (Hindi news uses them
/// interchangeably: गाँव/गांव), and zero-width joiners are dropped.
fn normalize(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        match c {
            '\u{200C}' | '\u{200D}' => {}
            CHANDRABINDU => out.push(ANUSVARA),
            _ => match nukta_base(c) {
                Some(base) => {
                    out.push(base);
                    out.push(NUKTA);
                }
                None => out.push(c),
            },
        }
    }
    out
}

fn is_consonant(c: char) -> bool {
    ('\u{0915}'..='\u{0939}').contains(&c)
}

/// Characters that belong to a Devanagari word: letters and signs, but not
/// digits, dandas or the abbreviation sign ॰.
fn is_word_char(c: char) -> bool {
    matches!(c, '\u{0900}'..='\u{0963}' | '\u{0972}'..='\u{097F}' | '\u{200C}' | '\u{200D}')
}

/// A consonant or independent vowel letter (not a sign).
fn is_letter(c: char) -> bool {
    is_consonant(c) || independent_vowel(c).is_some()
}

/// Latin for a vowel sign (matra).
fn vowel_sign(c: char) -> Option<&'static str> {
    Some(match c {
        'ा' => "a",
        'ि' | 'ी' => "i",
        'ु' | 'ू' => "u",
        'ृ' | 'ॄ' => "ri",
        'ॢ' | 'ॣ' => "li",
        'ॅ' | 'ॆ' | 'े' => "e",
        'ै' => "ai",
        'ॉ' | 'ॊ' | 'ो' => "o",
        'ौ' => "au",
        _ => return None,
    })
}

/// Latin for an independent vowel letter.
fn independent_vowel(c: char) -> Option<&'static str> {
    Some(match c {
        'ऄ' | 'अ' | 'आ' | 'ॲ' => "a",
        'इ' | 'ई' => "i",
        'उ' | 'ऊ' => "u",
        'ऋ' | 'ॠ' => "ri",
        'ऌ' | 'ॡ' => "li",
        'ऍ' | 'ऎ' | 'ए' => "e",
        'ऐ' => "ai",
        'ऑ' | 'ऒ' | 'ओ' => "o",
        'औ' => "au",
        'ॐ' => "om",
        _ => return None,
    })
}

/// Latin for a consonant out of context.
fn consonant_latin(c: char, nukta: bool) -> &'static str {
    if nukta {
        match c {
            'क' => return "q",
            'ग' => return "gh",
            'ज' => return "z",
            'ड' => return "r",
            'ढ' => return "rh",
            'फ' => return "f",
            // ख़ and the rarer nukta letters are spelt like their base.
            _ => {}
        }
    }
    match c {
        'क' => "k",
        'ख' => "kh",
        'ग' => "g",
        'घ' => "gh",
        'च' => "ch",
        'छ' => "chh",
        'ज' => "j",
        'झ' => "jh",
        'ट' | 'त' => "t",
        'ठ' | 'थ' => "th",
        'ड' | 'द' => "d",
        'ढ' | 'ध' => "dh",
        'ङ' | 'ञ' | 'ण' | 'न' => "n",
        'प' => "p",
        'फ' => "ph",
        'ब' => "b",
        'भ' => "bh",
        'म' => "m",
        'य' => "y",
        'र' => "r",
        'ल' | 'ळ' => "l",
        'व' => "v",
        'श' | 'ष' => "sh",
        'स' => "s",
        'ह' => "h",
        _ => "",
    }
}

fn is_semivowel(c: char) -> bool {
    matches!(c, 'य' | 'र' | 'ल' | 'व')
}

fn is_nasal(c: char) -> bool {
    matches!(c, 'ङ' | 'ञ' | 'ण' | 'न' | 'म')
}

fn is_sibilant(c: char) -> bool {
    matches!(c, 'श' | 'ष' | 'स')
}

/// Consonants that are neither semivowels, nasals, sibilants nor ह.
fn is_stop(c: char) -> bool {
    is_consonant(c) && !is_semivowel(c) && !is_nasal(c) && !is_sibilant(c) && c != 'ह'
}

fn is_labial(c: char) -> bool {
    matches!(c, 'प' | 'फ' | 'ब' | 'भ' | 'म' | 'व')
}

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

/// Frequent names whose usual English spelling is not what the spelling
/// rules produce. Keep this short: a name belongs here only if its English
/// form is conventional rather than phonetic. Looked up ignoring nukta.
const EXCEPTIONS: &[(&str, &str)] = &[
    ("लखनऊ", "lucknow"),
    ("वाराणसी", "varanasi"),
    ("बेंगलुरु", "bengaluru"),
    ("दिल्ली", "delhi"),
    ("पंजाब", "punjab"),
    ("गुजरात", "gujarat"),
    ("कर्नाटक", "karnataka"),
    ("केरल", "kerala"),
    ("असम", "assam"),
    ("गोवा", "goa"),
    ("नगालैंड", "nagaland"),
    ("मिजोरम", "mizoram"),
    ("पुडुचेरी", "puducherry"),
    ("मेरठ", "meerut"),
    ("नोएडा", "noida"),
    ("बरेली", "bareilly"),
    ("रायबरेली", "raebareli"),
    ("मुरैना", "morena"),
    ("अगरतला", "agartala"),
    ("इंदौर", "indore"),
    ("ग्वालियर", "gwalior"),
    ("वडोदरा", "vadodara"),
    ("हैदराबाद", "hyderabad"),
    ("सिकंदराबाद", "secunderabad"),
    ("तिरुवनंतपुरम", "thiruvananthapuram"),
    ("भुवनेश्वर", "bhubaneswar"),
    ("कटक", "cuttack"),
    ("कोयंबटूर", "coimbatore"),
    ("हावड़ा", "howrah"),
    ("आइज़ोल", "aizawl"),
    ("ग़ाज़ीपुर", "ghazipur"),
    ("ग़ाज़ियाबाद", "ghaziabad"),
    ("शिलांग", "shillong"),
    ("मैसूर", "mysore"),
    ("कच्छ", "kutch"),
    ("व्यास", "beas"),
    ("सतलुज", "sutlej"),
    ("हुगली", "hooghly"),
    ("सिंह", "singh"),
    ("सिंधिया", "scindia"),
    ("ठाकरे", "thackeray"),
    ("बनर्जी", "banerjee"),
    ("मुखर्जी", "mukherjee"),
    ("चटर्जी", "chatterjee"),
    ("चौधरी", "chaudhary"),
    ("अय्यर", "iyer"),
    ("राठौड़", "rathore"),
    ("मोहम्मद", "mohammed"),
    ("वाजपेयी", "vajpayee"),
    ("एम्स", "aiims"),
];

/// Place-name endings that are separate morphemes: the stem before them is
/// treated as a word of its own, so its final schwa is deleted
/// (मुज़फ़्फ़र|पुर → muzaffar|pur, श्री|नगर → shri|nagar), and the ending gets
/// its conventional spelling. Longer endings come first. Like the other
/// Devanagari tables, written in normalised form (see `normalize`).
const ENDINGS: &[(&str, &str)] = &[
    // The ā of -आबाद is written on the stem's last consonant: अहमद|ाबाद.
    ("ाबाद", "abad"),
    ("पट्टनम", "patnam"),
    ("पत्तनम", "patnam"),
    ("वाड़ा", "wara"),
    // Sanskrit name endings keep their a in English: Sitamarhi, Sabarmati,
    // Amravati, Tirupati.
    ("मढ़ी", "marhi"),
    ("मती", "mati"),
    ("वती", "vati"),
    ("पति", "pati"),
    ("पुरा", "pura"),
    ("पुरी", "puri"),
    ("पुर", "pur"),
    ("गंज", "ganj"),
    ("गढ़", "garh"),
    ("नगर", "nagar"),
    ("बाद", "bad"),
    ("गांव", "gaon"),
    ("कोट", "kot"),
    ("मेर", "mer"),
    ("खंड", "khand"),
    ("बाग़", "bagh"),
    ("बाग", "bagh"),
];

/// Prefixes that begin compounds: the rest is transliterated as a word of
/// its own (श्री|हरिकोटा shriharikota, not shrihrikota; महा|नदी mahanadi).
const PREFIXES: &[(&str, &str)] = &[("श्री", "shri"), ("महा", "maha")];

// ---------------------------------------------------------------------------
// Transliteration
// ---------------------------------------------------------------------------

/// Indian-English spelling of one Devanagari word (or a phrase: words
/// separated by spaces are transliterated one by one and joined by a space).
/// Non-Devanagari characters pass through unchanged; Devanagari digits become
/// ASCII digits. The Latin produced for Devanagari is lowercase.
pub fn to_latin(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if is_word_char(c) {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.push_str(&word_to_latin(&word));
            word.clear();
        }
        out.push(ascii_digit(c).unwrap_or(c));
    }
    if !word.is_empty() {
        out.push_str(&word_to_latin(&word));
    }
    out
}

/// The ASCII digit for a Devanagari digit (५ → 5).
fn ascii_digit(c: char) -> Option<char> {
    match c {
        '०'..='९' => char::from_digit(c as u32 - '०' as u32, 10),
        _ => None,
    }
}

fn word_to_latin(word: &str) -> String {
    let word = normalize(word);
    if let Some(&(_, latin)) = EXCEPTIONS
        .iter()
        .find(|(hindi, _)| without_nukta(hindi).eq(without_nukta(&word)))
    {
        return latin.to_string();
    }
    match split_prefix(&word) {
        Some((prefix, rest)) => format!("{prefix}{}", morpheme_to_latin(rest)),
        None => morpheme_to_latin(&word),
    }
}

/// Splits a compound prefix off a normalised word. Returns the prefix's
/// Latin and the rest, which must be a word of at least two letters (महान
/// mahan is not महा|न).
fn split_prefix(word: &str) -> Option<(&'static str, &str)> {
    PREFIXES.iter().find_map(|&(prefix, latin)| {
        let rest = word.strip_prefix(prefix)?;
        let word_like =
            rest.starts_with(is_letter) && rest.chars().filter(|&c| is_letter(c)).count() >= 2;
        word_like.then_some((latin, rest))
    })
}

/// A normalised word's characters without nukta signs, for looking up
/// exceptions: an English spelling does not depend on whether the nukta was
/// typed.
fn without_nukta(word: &str) -> impl Iterator<Item = char> + '_ {
    word.chars().filter(|&c| c != NUKTA)
}

/// Transliterates a normalised word without a prefix.
fn morpheme_to_latin(word: &str) -> String {
    let (stem, ending) = split_ending(word);
    let mut units = parse(stem);
    delete_schwas(&mut units);
    let mut out = render(&units, ending.is_some());
    out.push_str(ending.unwrap_or(""));
    out
}

/// Splits a known place-name ending off a normalised word. Returns the stem
/// and the ending's Latin spelling.
fn split_ending(word: &str) -> (&str, Option<&'static str>) {
    for &(hindi, latin) in ENDINGS {
        let Some(stem) = word.strip_suffix(hindi) else {
            continue;
        };
        // A stem ending in a virama would make the ending's first consonant
        // half of a conjunct; -ाबाद needs a consonant to carry its ā.
        let ok = match stem.chars().last() {
            Some(VIRAMA) => false,
            Some(last) if hindi.starts_with('ा') => is_consonant(last) || last == NUKTA,
            Some(_) => true,
            None => !hindi.starts_with('ा'),
        };
        if ok {
            return (stem, Some(latin));
        }
    }
    (word, None)
}

/// What follows a consonant, or the vowel of an independent vowel letter.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Vowel {
    /// The inherent a, pronounced.
    Schwa,
    /// The inherent a, removed by schwa deletion.
    Deleted,
    /// An explicit virama: the consonant joins the next one.
    Virama,
    /// A vowel sign or independent vowel, as Latin.
    Sign(&'static str),
}

/// One syllable-like unit: a consonant with its vowel, or an independent
/// vowel (consonant `None`), plus the signs written after it.
#[derive(Clone, Copy, Debug)]
struct Unit {
    consonant: Option<char>,
    nukta: bool,
    vowel: Vowel,
    nasal: bool,
    visarga: bool,
}

impl Unit {
    fn new(consonant: Option<char>, vowel: Vowel) -> Self {
        Unit {
            consonant,
            nukta: false,
            vowel,
            nasal: false,
            visarga: false,
        }
    }

    /// Whether a vowel is pronounced in this unit.
    fn is_voiced(&self) -> bool {
        matches!(self.vowel, Vowel::Schwa | Vowel::Sign(_))
    }

    /// A consonant with no vowel after it.
    fn is_bare_consonant(&self) -> bool {
        self.consonant.is_some() && !self.is_voiced()
    }

    fn vowel_latin(&self) -> &'static str {
        match self.vowel {
            Vowel::Schwa => "a",
            Vowel::Deleted | Vowel::Virama => "",
            Vowel::Sign(latin) => latin,
        }
    }
}

/// Parses a normalised Devanagari word into units. Stray signs that cannot
/// attach to anything are ignored.
fn parse(word: &str) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    for c in word.chars() {
        if is_consonant(c) {
            units.push(Unit::new(Some(c), Vowel::Schwa));
        } else if let Some(latin) = independent_vowel(c) {
            units.push(Unit::new(None, Vowel::Sign(latin)));
        } else if let Some(last) = units.last_mut() {
            let bare = last.consonant.is_some() && last.vowel == Vowel::Schwa;
            match c {
                NUKTA => last.nukta = true,
                VIRAMA if bare => last.vowel = Vowel::Virama,
                ANUSVARA => last.nasal = true,
                VISARGA => last.visarga = true,
                _ => {
                    if let Some(latin) = vowel_sign(c).filter(|_| bare) {
                        last.vowel = Vowel::Sign(latin);
                    }
                }
            }
        }
    }
    units
}

/// Hindi schwa deletion, right to left (after Narasimhan et al.): the final
/// schwa goes, and a medial schwa goes in the context V C _ C V, i.e. when
/// its consonant follows a pronounced vowel and precedes a single consonant
/// that still has its vowel. Working right to left, a deletion makes the
/// schwa before it stay (गोरख|पुर: the a after ख goes, so the a after र
/// stays), which avoids clusters of three consonants. A schwa also stays
/// before ह, where Hindi keeps it (शहर shahar, शाहजहां shahjahan), and
/// between two identical consonants, since Hindi writes a doubled consonant
/// as a conjunct (अररिया araria).
fn delete_schwas(units: &mut [Unit]) {
    let Some(last) = units.len().checked_sub(1) else {
        return;
    };
    let final_unit = units[last];
    if final_unit.consonant.is_some()
        && final_unit.vowel == Vowel::Schwa
        && !final_unit.nasal
        && !final_unit.visarga
        && !keeps_final_schwa(units)
    {
        units[last].vowel = Vowel::Deleted;
    }
    for i in (1..last).rev() {
        let (prev, this, next) = (units[i - 1], units[i], units[i + 1]);
        let deletable = this.vowel == Vowel::Schwa
            && !this.nasal
            && !this.visarga
            && prev.is_voiced()
            && next.consonant.is_some()
            && next.consonant != Some('ह')
            && next.consonant != this.consonant
            && (next.is_voiced()
                || (closes_syllable(units, i) && starts_r_cluster(&units[i + 1..])));
        if deletable {
            units[i].vowel = Vowel::Deleted;
        }
    }
}

/// Whether the consonant `units[i]` can close the syllable before it: that
/// syllable is the first of the word or has a full vowel. Otherwise an
/// earlier schwa is the one to delete (सोन|भद्र sonbhadra).
fn closes_syllable(units: &[Unit], i: usize) -> bool {
    i == 1 || matches!(units[i - 1].vowel, Vowel::Sign(_))
}

/// Whether `units` start with a consonant + र conjunct that carries a vowel
/// (प्री in जसप्रीत). Such a conjunct begins a syllable, so a schwa before
/// it can go without making an impossible cluster: jas.prit, ram.pra.sad.
fn starts_r_cluster(units: &[Unit]) -> bool {
    matches!(units, [first, second, ..]
        if first.vowel == Vowel::Virama && second.consonant == Some('र') && second.is_voiced())
}

/// Whether a word keeps its final a. One-letter words keep it (न na), and so
/// do most final conjuncts, as English spells names (Gupta, Mishra, Krishna,
/// Indra), except conjuncts that Hindi and English both close: doubled
/// letters (Bhatt), र + consonant (Durg), sibilant + stop (Bisht),
/// nasal + stop (Sant), क्ष (Daksh), क्त (Bhakt) and consonant + स (Vats,
/// ब्रिक्स BRICS).
fn keeps_final_schwa(units: &[Unit]) -> bool {
    let [.., before, last] = units else {
        return true;
    };
    let (Some(a), Some(b), Vowel::Virama) = (before.consonant, last.consonant, before.vowel) else {
        return false;
    };
    let closed = a == b
        || (a == 'र' && !is_semivowel(b))
        || (is_sibilant(a) && is_stop(b))
        || (is_nasal(a) && is_stop(b))
        || (a == 'क' && matches!(b, 'ष' | 'त'))
        || b == 'स';
    !closed
}

/// Renders units as Latin. `before_consonant` says whether a consonant
/// follows the last unit (an ending was split off), which matters for य.
fn render(units: &[Unit], before_consonant: bool) -> String {
    let mut out = String::new();
    for (i, unit) in units.iter().enumerate() {
        out.push_str(consonant_in_context(units, i, before_consonant));
        out.push_str(unit.vowel_latin());
        let next_consonant = units.get(i + 1).and_then(|n| n.consonant);
        if unit.nasal {
            // Anusvara assimilates to a following labial: चंपारण champaran.
            out.push(if next_consonant.is_some_and(is_labial) {
                'm'
            } else {
                'n'
            });
        }
        // Visarga is heard at the end (नमः namah) but not before a
        // consonant (दुःख dukh).
        if unit.visarga && next_consonant.is_none() {
            out.push('h');
        }
    }
    out
}

/// Latin for the consonant of `units[i]` (empty for a vowel), given its
/// neighbours.
fn consonant_in_context(units: &[Unit], i: usize, before_consonant: bool) -> &'static str {
    let unit = &units[i];
    let Some(c) = unit.consonant else {
        return "";
    };
    let prev = i.checked_sub(1).map(|p| &units[p]);
    let before_prev = i.checked_sub(2).map(|p| &units[p]);
    let next = units.get(i + 1);
    let prev_bare = prev
        .filter(|p| p.is_bare_consonant())
        .and_then(|p| p.consonant);
    match c {
        // ज्ञ is pronounced gy in Hindi: ज्ञान gyan.
        'ज' if unit.vowel == Vowel::Virama && next.is_some_and(|n| n.consonant == Some('ञ')) => {
            "g"
        }
        'ञ' if prev_bare == Some('ज') => "y",
        // फ with no vowel after it, and its double, are f in English
        // spellings: Safdarjung, Muzaffarpur, Sharif.
        'फ' if unit.is_bare_consonant() || prev_bare == Some('फ') => "f",
        // व right after another consonant is w (स्वामी swami, द्वारका
        // dwarka, अलवर alwar), but not after र (पार्वती parvati).
        'व' if prev_bare.is_some_and(|p| p != 'र') => "w",
        // य closing a syllable after a is i: जयपुर jaipur, नायडू naidu.
        'य' if unit.vowel == Vowel::Deleted
            && prev.is_some_and(|p| !p.nasal && p.vowel_latin().ends_with('a'))
            && match next {
                Some(n) => n.consonant.is_some(),
                None => before_consonant,
            } =>
        {
            "i"
        }
        // -िया is spelt -ia in longer names (अररिया araria, सोनिया sonia,
        // लुधियाना ludhiana) but not after a conjunct (प्रिया priya) or in
        // two-syllable words (दिया diya).
        'य' if unit.vowel == Vowel::Sign("a")
            && !unit.nasal
            && units.len() >= 3
            && prev.is_some_and(|p| p.consonant.is_some() && p.vowel == Vowel::Sign("i"))
            && before_prev.is_none_or(|b| b.vowel != Vowel::Virama) =>
        {
            ""
        }
        _ => consonant_latin(c, unit.nukta),
    }
}

// ---------------------------------------------------------------------------
// Acronyms
// ---------------------------------------------------------------------------

/// Hindi spellings of English letter names, with common variants.
const LETTER_NAMES: &[(&str, char)] = &[
    ("ए", 'A'),
    ("बी", 'B'),
    ("सी", 'C'),
    ("डी", 'D'),
    ("ई", 'E'),
    ("एफ", 'F'),
    ("एफ\u{093C}", 'F'),
    ("ऐफ", 'F'),
    ("जी", 'G'),
    ("एच", 'H'),
    ("ऐच", 'H'),
    ("आई", 'I'),
    ("जे", 'J'),
    ("के", 'K'),
    ("एल", 'L'),
    ("ऐल", 'L'),
    ("एम", 'M'),
    ("ऐम", 'M'),
    ("एन", 'N'),
    ("ऐन", 'N'),
    ("ओ", 'O'),
    ("पी", 'P'),
    ("क्यू", 'Q'),
    ("आर", 'R'),
    ("एस", 'S'),
    ("ऐस", 'S'),
    ("टी", 'T'),
    ("यू", 'U'),
    ("वी", 'V'),
    ("डब्ल्यू", 'W'),
    ("डबल्यू", 'W'),
    ("डब्लू", 'W'),
    ("एक्स", 'X'),
    ("ऐक्स", 'X'),
    ("वाई", 'Y'),
    ("ज\u{093C}ेड", 'Z'),
    ("जेड", 'Z'),
];

/// Ordinary Hindi words that happen to spell letter names.
const NOT_ACRONYMS: &[&str] = &[
    "टीके",  // vaccines
    "सीटी", // whistle
    "बीबी", // wife
    "जीजी", // elder sister
];

/// The Latin capitals of a Devanagari word that spells an English acronym
/// with letter names (आरबीआई → "RBI"). None unless the whole word is made of
/// at least two letter names; acronyms pronounced as words (एम्स, इसरो) are
/// not letter names.
pub fn acronym(word: &str) -> Option<String> {
    let word = normalize(word.trim());
    if NOT_ACRONYMS.contains(&word.as_str()) {
        return None;
    }
    spell_letters(&word).filter(|letters| letters.len() >= 2)
}

/// Splits `rest` into letter names, backtracking so that e.g. आईएएस reads
/// as आई ए एस rather than failing on a greedy choice.
fn spell_letters(rest: &str) -> Option<String> {
    if rest.is_empty() {
        return Some(String::new());
    }
    LETTER_NAMES.iter().find_map(|&(name, letter)| {
        let tail = rest.strip_prefix(name)?;
        let mut letters = spell_letters(tail)?;
        letters.insert(0, letter);
        Some(letters)
    })
}

// ---------------------------------------------------------------------------
// Phonetic matching
// ---------------------------------------------------------------------------

/// A spelling-insensitive key for comparing names, applied to Latin text (the
/// output of [`to_latin`], or a word from an English translation). It folds
/// the variations of Indian-English spelling: aspiration (Jhansi/Jansi),
/// ee/i and oo/u, w/v, ph/f, z/j, q/k, x/ks, sh/s, chh/ch, doubled letters,
/// y after the first letter as i (Jayaswal/Jaiswal), -ey as -e (Pandey),
/// and the ends of words English spells freely: a final a, an h after it,
/// and a silent e (Karnataka/Karnatak, Etawah/Etawa, Bose/Bos). The key is
/// opaque; in it `c` stands for the ch sound.
pub fn phonetic_key(latin: &str) -> String {
    let mut text: Vec<char> = latin
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    // Pandey, Dubey: English writes -ey for a final e.
    if text.ends_with(&['e', 'y']) {
        text.pop();
    }
    let mut key: Vec<char> = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let (sound, len): (&[char], usize) = match &text[i..] {
            ['c', 'h', 'h', ..] => (&['c'], 3),
            ['c', 'h', ..] => (&['c'], 2),
            ['s', 'h', ..] => (&['s'], 2),
            ['t', 'h', ..] => (&['t'], 2),
            ['d', 'h', ..] => (&['d'], 2),
            ['k', 'h', ..] => (&['k'], 2),
            ['g', 'h', ..] => (&['g'], 2),
            ['b', 'h', ..] => (&['b'], 2),
            ['j', 'h', ..] | ['z', 'h', ..] => (&['j'], 2),
            ['p', 'h', ..] => (&['f'], 2),
            ['r', 'h', ..] => (&['r'], 2),
            ['c', 'k', ..] => (&['k'], 2),
            ['e', 'e', ..] => (&['i'], 2),
            ['o', 'o', ..] => (&['u'], 2),
            // Gowda, Gauda: English writes au before a consonant as ow too.
            ['o', 'w', next, ..] if !is_key_vowel(*next) => (&['a', 'u'], 2),
            // An anusvara is n or m before a labial, as the writer hears it:
            // Mihinpurwa, Mihimpurwa; Champaran, Chanparan.
            ['m', 'p' | 'b', ..] => (&['n'], 1),
            ['x', ..] => (&['k', 's'], 1),
            ['q', ..] | ['c', ..] => (&['k'], 1),
            ['z', ..] => (&['j'], 1),
            ['w', ..] => (&['v'], 1),
            ['y', ..] if i > 0 => (&['i'], 1),
            [other, ..] => (std::slice::from_ref(other), 1),
            [] => unreachable!("loop condition"),
        };
        key.extend_from_slice(sound);
        i += len;
    }
    key.dedup();
    // Etawah, Bettiah, Bumrah: an h after a final a is not heard.
    if key.len() > 2 && key.ends_with(&['a', 'h']) {
        key.pop();
    }
    if key.len() > 2 && key.ends_with(&['a']) {
        key.pop();
    }
    if key.len() > 2 && key.ends_with(&['e']) && !is_key_vowel(key[key.len() - 2]) {
        key.pop();
    }
    key.into_iter().collect()
}

fn is_key_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// Whether an English word (or phrase) and a Devanagari name are the same
/// name. Phrases with the same number of words are compared word by word,
/// others as one concatenated key; keys match when they start alike and
/// their weighted edit distance fits a length-dependent budget (see
/// `keys_match`). Case-insensitive on the English side. A Hindi word spelt
/// with letter names matches exactly its acronym (आरबीआई and RBI).
pub fn same_name(english: &str, hindi: &str) -> bool {
    let en = words(english);
    let hi = words(hindi);
    if en.is_empty() || hi.is_empty() {
        return false;
    }
    // A Hindi acronym matches its letters however the English writes them
    // (RBI, R.B.I., R B I) and nothing else: its Latin is not a name.
    if let [hindi_word] = hi[..]
        && let Some(letters) = acronym(hindi_word)
    {
        return letters.eq_ignore_ascii_case(&ascii_letters(&en.concat()));
    }
    if en.len() == hi.len() {
        return en.iter().zip(&hi).all(|(e, h)| word_matches(e, h));
    }
    let en_key: String = en.iter().map(|w| phonetic_key(w)).collect();
    let hi_key: String = hi.iter().map(|w| phonetic_key(&to_latin(w))).collect();
    keys_match(&en_key, &hi_key)
}

/// Words of a name: split on whitespace and hyphens, without an English
/// possessive (Modi's), dropping pieces with no letters (stray punctuation).
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| {
            w.strip_suffix("'s")
                .or_else(|| w.strip_suffix("’s"))
                .unwrap_or(w)
        })
        .filter(|w| w.chars().any(char::is_alphabetic))
        .collect()
}

fn ascii_letters(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphabetic).collect()
}

fn word_matches(english: &str, hindi: &str) -> bool {
    match acronym(hindi) {
        Some(letters) => letters.eq_ignore_ascii_case(&ascii_letters(english)),
        None => keys_match(&phonetic_key(english), &phonetic_key(&to_latin(hindi))),
    }
}

/// Cost of a vowel-level difference (a/u, an extra a, h).
const CHEAP: usize = 1;
/// Cost of a consonant-level difference: more than the budget of a single
/// word of up to 11 letters, so only long names and phrases tolerate one.
const FULL: usize = 4;

/// Whether two phonetic keys are close enough to be one name: they must
/// start alike, and the weighted distance must stay within a budget that
/// grows with length, so that short names tolerate one vowel change and long
/// names one consonant change.
fn keys_match(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (Some(&first_a), Some(&first_b)) = (a.first(), b.first()) else {
        return false;
    };
    if !same_onset(first_a, first_b) {
        return false;
    }
    let budget = allowed_cost(a.len().max(b.len()));
    weighted_distance(&a, &b, key_indel_cost, key_substitution_cost) <= budget
}

/// Names hardly vary in their first sound once the key has folded the
/// spelling variants: a vowel may replace a vowel (Etawah/Itava,
/// Omar/Umar) and b may replace v (Brindavan/Vrindavan), but nothing is
/// added or dropped (Rampur is not Udhampur, Jain is not Ujjain).
fn same_onset(a: char, b: char) -> bool {
    a == b || (is_key_vowel(a) && is_key_vowel(b)) || matches!((a, b), ('b', 'v') | ('v', 'b'))
}

/// The distance budget: one cheap edit up to five letters, then one per
/// three letters (two at 6–8, three at 9–11, four at 12–14, ...).
fn allowed_cost(key_len: usize) -> usize {
    if key_len <= 5 { CHEAP } else { key_len / 3 }
}

/// Inserting or dropping a vowel or h is a spelling variant (Prayag(a)raj,
/// Bettia(h)); anything else changes the name.
fn key_indel_cost(c: char) -> usize {
    if is_key_vowel(c) || c == 'h' {
        CHEAP
    } else {
        FULL
    }
}

/// Vowels vary freely (Safdarjang/Safdarjung); so do d/r (ड/ड़), b/v
/// (Bengali and Odia names) and v/o/u (राव Rao, उन्नाव Unnao).
fn key_substitution_cost(a: char, b: char) -> usize {
    let similar = (is_key_vowel(a) && is_key_vowel(b))
        || matches!(
            (a.min(b), a.max(b)),
            ('d', 'r') | ('b', 'v') | ('o', 'v') | ('u', 'v')
        );
    if similar { CHEAP } else { FULL }
}

/// Edit distance with per-character insertion/deletion and substitution
/// costs, over one rolling row.
fn weighted_distance(
    a: &[char],
    b: &[char],
    indel: impl Fn(char) -> usize,
    substitution: impl Fn(char, char) -> usize,
) -> usize {
    let mut row: Vec<usize> = Vec::with_capacity(b.len() + 1);
    row.push(0);
    for &cb in b {
        row.push(row[row.len() - 1] + indel(cb));
    }
    for &ca in a {
        // `diagonal` is the previous row's value one column to the left.
        let mut diagonal = row[0];
        row[0] += indel(ca);
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + if ca == cb { 0 } else { substitution(ca, cb) };
            let delete = row[j + 1] + indel(ca);
            let insert = row[j] + indel(cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(delete).min(insert);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The fixture of real names; the one place its path is written.
    const FIXTURE: &str = include_str!("../../tests/fixtures/names.tsv");

    /// Fixture entries: a Hindi name and its accepted English spellings.
    fn fixture() -> Vec<(&'static str, Vec<&'static str>)> {
        FIXTURE
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (hindi, spellings) = line
                    .split_once('\t')
                    .unwrap_or_else(|| panic!("expected hindi<TAB>spellings: {line}"));
                (hindi, spellings.split('|').collect())
            })
            .collect()
    }

    #[test]
    fn transliterates_names() {
        let cases = [
            ("राम", "ram"),
            ("कमला", "kamla"),
            ("राजधानी", "rajdhani"),
            ("सरकार", "sarkar"),
            ("भारत", "bharat"),
            ("बहराइच", "bahraich"),
            ("कानपुर", "kanpur"),
            ("गोरखपुर", "gorakhpur"),
            ("मुज़फ़्फ़रपुर", "muzaffarpur"),
            ("मुजफ्फरपुर", "mujaffarpur"),
            ("अहमदाबाद", "ahmadabad"),
            ("फ़िरोज़ाबाद", "firozabad"),
            ("मुरादाबाद", "muradabad"),
            ("गाज़ीपुर", "ghazipur"),
            ("अलीगढ़", "aligarh"),
            ("सीतामढ़ी", "sitamarhi"),
            ("छिंदवाड़ा", "chhindwara"),
            ("बाड़मेर", "barmer"),
            ("हज़ारीबाग़", "hazaribagh"),
            ("प्रयागराज", "prayagraj"),
            ("दरभंगा", "darbhanga"),
            ("सफदरजंग", "safdarjang"),
            ("राजगीर", "rajgir"),
            ("श्रीहरिकोटा", "shriharikota"),
            ("श्रीनगर", "shrinagar"),
            ("शाहजहांपुर", "shahjahanpur"),
            ("अमृतसर", "amritsar"),
            ("राजस्थान", "rajasthan"),
            ("महाराष्ट्र", "maharashtra"),
            ("छत्तीसगढ़", "chhattisgarh"),
            ("झारखंड", "jharkhand"),
            ("जयपुर", "jaipur"),
            ("उदयपुर", "udaipur"),
            ("रायपुर", "raipur"),
            ("अलवर", "alwar"),
            ("द्वारका", "dwarka"),
            ("स्वामी", "swami"),
            ("हरिद्वार", "haridwar"),
            ("चंपारण", "champaran"),
            ("संभल", "sambhal"),
            ("गंगा", "ganga"),
            ("घंटा", "ghanta"),
            ("आंबेडकर", "ambedkar"),
            ("राजनांदगांव", "rajnandgaon"),
            ("गाँव", "gaon"),
            ("पट्टी", "patti"),
            ("दुःख", "dukh"),
            ("ज्ञान", "gyan"),
            ("कृष्ण", "krishna"),
            ("गुप्त", "gupta"),
            ("भट्ट", "bhatt"),
            ("दुर्ग", "durg"),
            ("बिष्ट", "bisht"),
            ("नीतीश", "nitish"),
            ("जयशंकर", "jaishankar"),
            ("नायडू", "naidu"),
            ("वैष्णव", "vaishnav"),
            ("त्रिपाठी", "tripathi"),
            ("चतुर्वेदी", "chaturvedi"),
            ("जसप्रीत", "jasprit"),
            ("महानदी", "mahanadi"),
            ("साबरमती", "sabarmati"),
            ("तिरुपति", "tirupati"),
            ("सोनभद्र", "sonbhadra"),
            ("तुंगभद्रा", "tungbhadra"),
            ("रामप्रसाद", "ramprasad"),
            ("सोनिया", "sonia"),
            ("प्रिया", "priya"),
            ("लुधियाना", "ludhiana"),
            ("अररिया", "araria"),
            ("मुंबई", "mumbai"),
            ("चेन्नई", "chennai"),
            ("कोलकाता", "kolkata"),
            ("लखनऊ", "lucknow"),
            ("वाराणसी", "varanasi"),
            ("बेंगलुरु", "bengaluru"),
            ("दिल्ली", "delhi"),
            ("नरेंद्र मोदी", "narendra modi"),
            ("मोदी, २०२४।", "modi, 2024।"),
            ("ISRO इसरो", "ISRO isro"),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter(|(hindi, latin)| to_latin(hindi) != *latin)
            .map(|(hindi, latin)| format!("{hindi}: got {}, want {latin}", to_latin(hindi)))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn tables_are_normalised() {
        let table_words = EXCEPTIONS
            .iter()
            .chain(ENDINGS)
            .chain(PREFIXES)
            .map(|(hindi, _)| *hindi)
            .chain(LETTER_NAMES.iter().map(|(hindi, _)| *hindi))
            .chain(NOT_ACRONYMS.iter().copied());
        for hindi in table_words {
            assert_eq!(normalize(hindi), hindi, "{hindi} is not normalised");
        }
    }

    #[test]
    fn nukta_forms_are_equivalent() {
        // Precomposed ज़ (U+095B) and ज + nukta (U+091C U+093C).
        assert_eq!(to_latin("\u{095B}\u{093F}\u{0932}\u{093E}"), "zila");
        assert_eq!(to_latin("\u{091C}\u{093C}\u{093F}\u{0932}\u{093E}"), "zila");
    }

    #[test]
    fn spells_acronyms() {
        let cases = [
            ("आरबीआई", "RBI"),
            ("जीएसएलवी", "GSLV"),
            ("पीटीआई", "PTI"),
            ("एनडीए", "NDA"),
            ("सीबीएसई", "CBSE"),
            ("यूपीएससी", "UPSC"),
            ("डीएम", "DM"),
            ("एसपी", "SP"),
            ("आईएएस", "IAS"),
            ("एनडीआरएफ", "NDRF"),
            ("आईआईटी", "IIT"),
            ("बीएसई", "BSE"),
            ("एनएसई", "NSE"),
            ("जीडीपी", "GDP"),
            ("एफआईआर", "FIR"),
            ("एफ़आईआर", "FIR"),
            ("एसडीएम", "SDM"),
            ("डब्ल्यूएचओ", "WHO"),
            ("ओबीसी", "OBC"),
            ("ईडी", "ED"),
            ("सीबीआई", "CBI"),
            ("आरएसएस", "RSS"),
            ("यूके", "UK"),
            ("ऐनडीए", "NDA"),
            ("एक्सवाईज़ेड", "XYZ"),
        ];
        for (hindi, letters) in cases {
            assert_eq!(acronym(hindi).as_deref(), Some(letters), "{hindi}");
        }
        for hindi in [
            "के",
            "ए",
            "सी",
            "है",
            "में",
            "एम्स",
            "भारत",
            "सरकार",
            "टीके",
            "इसरो",
            "",
        ] {
            assert_eq!(acronym(hindi), None, "{hindi}");
        }
        assert!(same_name("RBI", "आरबीआई"));
        assert!(same_name("r.b.i.", "आरबीआई"));
        assert!(!same_name("CBI", "आरबीआई"));
    }

    #[test]
    fn folds_spelling_variants() {
        let pairs = [
            ("Vaishnav", "Vaishnaw"),
            ("Safdarjang", "Safdarjung"),
            ("Chhindwara", "Chindwara"),
            ("Sitamarhi", "Sitamadhi"),
            ("Prayagraj", "Prayagaraj"),
            ("Bahraich", "Baharaich"),
            ("Muzaffarpur", "Mujaffarpur"),
            ("Shrivastava", "Srivastava"),
            ("Jaiswal", "Jayaswal"),
            ("Mishra", "Misra"),
            ("Ghaziabad", "Gajiyabad"),
            ("Hyderabad", "Haidarabad"),
            ("Ahmedabad", "Ahmadabad"),
            ("Moradabad", "Muradabad"),
            ("Pandey", "Pande"),
        ];
        for (a, b) in pairs {
            let (ka, kb) = (phonetic_key(a), phonetic_key(b));
            assert!(keys_match(&ka, &kb), "{a} ({ka}) vs {b} ({kb})");
            assert!(same_name(a, b), "{a} vs {b}");
        }
        assert_eq!(phonetic_key("Vaishnaw"), phonetic_key("Vaishnav"));
        assert_eq!(phonetic_key("Shrivastava"), phonetic_key("Srivastava"));
        assert_eq!(phonetic_key("Chhindwara"), phonetic_key("Chindwara"));
        assert_eq!(phonetic_key("Muzaffarpur"), phonetic_key("Mujaffarpur"));
    }

    #[test]
    fn keeps_distinct_names_apart() {
        let pairs = [
            ("Patna", "Pune"),
            ("Agra", "Ajmer"),
            ("Bhopal", "Bhatpara"),
            ("Meerut", "Merta"),
            ("Rampur", "Raipur"),
            ("Sitapur", "Sitamarhi"),
            ("Kota", "Kotdwar"),
            ("Jaipur", "Jodhpur"),
            ("Singh", "Sinha"),
            ("Yadav", "Jadhav"),
            ("Gupta", "Gopal"),
        ];
        for (a, b) in pairs {
            let (ka, kb) = (phonetic_key(a), phonetic_key(b));
            assert!(!keys_match(&ka, &kb), "{a} ({ka}) vs {b} ({kb})");
            assert!(!same_name(a, b), "{a} vs {b}");
        }
        let hindi_pairs = [
            ("Pune", "पटना"),
            ("Raipur", "रामपुर"),
            ("Jodhpur", "जयपुर"),
            ("Sinha", "सिंह"),
            ("Jadhav", "यादव"),
            ("Ajmer", "आगरा"),
            ("Nitin Gadkari", "नितिन गुप्ता"),
        ];
        for (english, hindi) in hindi_pairs {
            assert!(!same_name(english, hindi), "{english} vs {hindi}");
        }
    }

    #[test]
    fn matches_phrases() {
        assert!(same_name("Nitish Kumar", "नीतीश कुमार"));
        assert!(same_name("nitish kumar", "नीतीश कुमार"));
        assert!(same_name("Tamil Nadu", "तमिलनाडु"));
        assert!(same_name("Shah Rukh Khan", "शाहरुख खान"));
        assert!(same_name("Jammu-Kashmir", "जम्मू-कश्मीर"));
        assert!(same_name("Modi's", "मोदी"));
        assert!(same_name("RBI's", "आरबीआई"));
        assert!(!same_name("Nitish Kumar", "नीतीश"));
        assert!(!same_name("", "नीतीश"));
        assert!(!same_name("Nitish", "।"));
    }

    #[test]
    fn counts_edits() {
        let edit_distance = |a: &str, b: &str| {
            let a: Vec<char> = a.chars().collect();
            let b: Vec<char> = b.chars().collect();
            weighted_distance(&a, &b, |_| 1, |_, _| 1)
        };
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("पटना", "पटन"), 1);
        assert_eq!(edit_distance("abc", ""), 3);
    }

    #[test]
    fn matches_fixture_names() {
        let entries = fixture();
        assert!(
            entries.len() >= 220,
            "fixture has {} entries",
            entries.len()
        );

        let misses: Vec<String> = entries
            .iter()
            .filter(|(hindi, spellings)| !spellings.iter().any(|s| same_name(s, hindi)))
            .map(|(hindi, spellings)| {
                let latin = to_latin(hindi);
                let key = phonetic_key(&latin);
                format!(
                    "  {hindi} -> {latin} ({key}), accepted {}",
                    spellings.join("|")
                )
            })
            .collect();
        let match_rate = 1.0 - misses.len() as f64 / entries.len() as f64;
        println!(
            "fixture match rate: {:.2}% of {} entries; misses:\n{}",
            100.0 * match_rate,
            entries.len(),
            misses.join("\n")
        );
        assert!(match_rate >= 0.97);
    }

    /// Pairs each Hindi name with the spellings of every other entry whose
    /// key differs from all of its own spellings' keys; such a pair must not
    /// match.
    #[test]
    fn rarely_matches_wrong_names() {
        let entries = fixture();
        let keys: Vec<HashSet<String>> = entries
            .iter()
            .map(|(_, spellings)| spellings.iter().map(|s| phonetic_key(s)).collect())
            .collect();
        let (mut pairs, mut false_matches) = (0usize, Vec::new());
        for (i, (hindi, _)) in entries.iter().enumerate() {
            for (j, (_, spellings)) in entries.iter().enumerate() {
                for spelling in spellings.iter().filter(|_| i != j) {
                    if keys[i].contains(&phonetic_key(spelling)) {
                        continue;
                    }
                    pairs += 1;
                    if same_name(spelling, hindi) {
                        false_matches.push(format!("{hindi} ~ {spelling}"));
                    }
                }
            }
        }
        let rate = false_matches.len() as f64 / pairs as f64;
        println!(
            "false-match rate: {:.3}% ({} of {pairs} wrong pairs): {}",
            100.0 * rate,
            false_matches.len(),
            false_matches.join(", ")
        );
        assert!(rate < 0.02);
    }
}
