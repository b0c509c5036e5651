#!/usr/bin/env python3
"""Record llama.cpp's token ids for Hindi news text on the default GGUF, the independent
reference for tests/tokenizer_parity.rs (our tokenizer is built from GGUF metadata).

usage: python3 scripts/tokenizer-fixtures.py MODEL.gguf > tests/fixtures/tokenizer/gemma3-hindi.json
needs: pip install llama-cpp-python
"""
import hashlib, json, sys
from llama_cpp import Llama, __version__ as LLAMA_CPP_VERSION

TEXTS = [
    "नई दिल्ली, 13 मार्च (भाषा)। केंद्र सरकार ने बुधवार को किसानों के लिए ₹4,500 करोड़ के राहत पैकेज की घोषणा की।",
    "मौसम विभाग के अनुसार अगले 48 घंटों में तापमान 45.5 डिग्री सेल्सियस तक पहुंच सकता है।",
    "भारतीय टीम ने 50 ओवर में 287/6 रन बनाए।",
    "रिजर्व बैंक ने रेपो दर को ६.५ प्रतिशत पर स्थिर रखा; GDP वृद्धि 7.2% रहने का अनुमान है।",
    "मुख्यमंत्री ने कहा, \"हम हर गांव तक बिजली पहुंचाएंगे।\" उन्होंने “नई योजना” की भी घोषणा की।",
    "डॉ. शर्मा और प्रो. वर्मा ने 2 1/2 साल तक ISRO के साथ काम किया।",
    "पहली पंक्ति\nदूसरी पंक्ति\n\nतीसरा अनुच्छेद",
    "शब्द    के    बीच    कई    स्थान",
    "  शुरुआत में स्थान और अंत में भी  ",
    "इमोजी 🎉 और दुर्लभ अक्षर ॐ ꣸ के साथ",
    "The Supreme Court on Monday asked the government to respond within two weeks.",
    "क़ानून, ज़मीन, फ़ैसला और ड़ ढ़ जैसे नुक़्ता वाले अक्षर",
    "सुबह 10.30 बजे, 13.03.2025 को, 1,25,000 लोग",
    "<b>टैग</b> और <table> जैसा पाठ",
    ("लोकसभा चुनाव के नतीजों के बाद राजनीतिक दलों में हलचल तेज हो गई है। सत्तारूढ़ गठबंधन ने "
     "292 सीटें जीतकर बहुमत हासिल किया, जबकि विपक्षी गठबंधन को 234 सीटें मिलीं। चुनाव आयोग के "
     "अनुसार इस बार 65.79 प्रतिशत मतदान हुआ, जो पिछले चुनाव से थोड़ा कम है। विशेषज्ञों का मानना है कि "
     "ग्रामीण इलाकों में बेरोजगारी और महंगाई बड़े मुद्दे रहे। कई राज्यों में क्षेत्रीय दलों ने शानदार "
     "प्रदर्शन किया और राष्ट्रीय दलों को कड़ी टक्कर दी। नई सरकार का शपथ ग्रहण समारोह अगले सप्ताह "
     "राष्ट्रपति भवन में होगा, जिसमें कई देशों के नेता शामिल होंगे।"),
]

llm = Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)
cases = [{"text": t, "ids": llm.tokenize(t.encode(), add_bos=False, special=False)} for t in TEXTS]
sha = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()
json.dump({"model_sha256": sha, "source": f"llama.cpp via llama-cpp-python {LLAMA_CPP_VERSION}",
           "cases": cases}, sys.stdout, ensure_ascii=False, indent=1)
