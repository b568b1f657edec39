"""Writes the CLIP tokenizer's parity fixture with Hugging Face's CLIPTokenizer (ftfy installed).

    tools/diffusion-oracle/make-fixtures.sh        # runs this in the oracle venv

Reads CLIP's merges from $STUDIO_HOME/testdata/clip/bpe_simple_vocab_16e6.txt (scripts/setup.sh test),
writes vocab.json and merges.txt from it the way CLIP derives its vocabulary (the files of
openai/clip-vit-large-patch14's tokenizer folder have this content), and records for 200 prompts the ids
`tokenizer(prompt)` and `tokenizer(prompt, padding="max_length", max_length=77, truncation=True)` give:
Tests/Fixtures/diffusion/clip-tokenizer.json.
"""
import json
import os
import random
import sys
import tempfile

from transformers import CLIPTokenizer

REGENERATE = "tools/diffusion-oracle/make-fixtures.sh"


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def write_tokenizer_files(bpe_path, folder):
    merges = open(bpe_path, encoding="utf-8").read().split("\n")[1:49152 - 256 - 2 + 1]
    pairs = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(p) for p in pairs] + ["<|startoftext|>", "<|endoftext|>"]
    with open(f"{folder}/vocab.json", "w", encoding="utf-8") as f:
        json.dump(dict(zip(vocab, range(len(vocab)))), f, ensure_ascii=False)
    with open(f"{folder}/merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(p) for p in pairs) + "\n")


HAND_WRITTEN = [
    "a photo of an astronaut riding a horse on mars",
    "portrait of a woman, 35mm, f/1.8, golden hour, highly detailed",
    "A Photo Of A CAT", "", "   ", "!!!", "...", "hello,world", "it's don't we're they've I'm we'll she'd",
    "IT'S DON'T WE'RE", "rock'n'roll", "''s", "'sun", "naïve café résumé", "Ærøskøbing straße",
    "ΟΔΟΣ ΣΑΣ Σ", "Москва зимой", "東京の夜景", "北京烤鸭 and 上海", "서울의 밤", "مرحبا بالعالم", "שלום",
    "emoji 😀🎉👩‍👩‍👧 flags 🇫🇷🏴󠁧󠁢󠁷󠁬󠁳󠁿", "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ １２３", "ｶﾀｶﾅ ﾊﾟﾝ", "the ﬁrst ﬂoor ﬃ",
    "“curly quotes” and ‘single’ ones ‛here‟", "fish &amp; chips &lt;3 &quot;quoted&quot; &#39;x&#39; &#x263A; &#128512;",
    "a <b>bold</b> &amp; tag", "tabs\tand\nnewlines\r\nand\u2028separators\u00a0nbsp\u3000ideographic",
    "control\x07chars\x1b[31mred\x1b[0m\ufeffbom", "1234567890 3.14159 1,000,000 ½ ² ³ ⅔ Ⅻ", "version2.0 v1.5 sd-xl_1.0",
    "price: $100 (50% off!) #sale @shop ~tilde^ `tick` |pipe| \\back/slash",
    "<|startoftext|>in the text<|endoftext|> and <|ENDOFTEXT|>", "(masterpiece:1.2), [cat:dog:0.5], {best quality}",
    "blurry, lowres, deformed, extra fingers, bad anatomy, watermark, text, jpeg artifacts",
    "different face, wrong identity, asymmetric eyes, plastic skin, overexposed",
    "ｄｉｇｉｔｓ ０１２ full stop。comma、", "C1 \x80 \x91quoted\x92 \x85 ellipsis", "x&#59;y &#0; &#xD800; &#1114112; &#65&#66;",
    "ǅemal ĳssel ŉ", "İstanbul ıi", "ẞIG ß", "ǈjubljana", "a" * 300, "ab" * 120, "word " * 90,
    "supercalifragilisticexpialidocious antidisestablishmentarianism", "😀" * 40, "日本語" * 40,
    "café\u0301 e\u0301 n\u0303", "ring\u030a a\u030a", "zero\u200bwidth\u200djoiner\u200c", "soft\u00adhyphen",
]

WORDS = ["portrait", "woman", "man", "smiling", "cinematic", "lighting", "4k", "8k", "hdr", "bokeh", "oil", "painting",
         "by", "greg", "rutkowski", "trending", "on", "artstation", "ultra-detailed", "sharp", "focus", "studio",
         "photo", "close-up", "full-body", "red", "hat", "freckles", "blue", "eyes", "long", "hair", "night", "city",
         "neon", "rain", "Paris", "Zürich", "São", "Paulo", "Kraków", "naïve", "coöperate", "über", "façade",
         "東京", "猫", "🙂", "🔥", "ΑΘΗΝΑ", "Ωmega", "MÜNCHEN", "ŁÓDŹ", "İzmir", "ﬁne", "“quote”", "don't", "it’s",
         "&amp;", "&#233;", "(1.3)", "[x]", "{y}", "a,b", "x/y", "--", "…", "—", "12", "3.5", "1/2", "½", "Ⅳ"]
SEPARATORS = [" ", " ", " ", ", ", ",", "  ", "\t", "\n", " - ", ".", "!", "?", ";", ":", "\u00a0", "\u3000"]


def generated(count, seed=7):
    r = random.Random(seed)
    out = []
    for i in range(count):
        n = r.choice([1, 2, 3, 5, 8, 13, 21, 40, 70])
        text = ""
        for k in range(n):
            w = r.choice(WORDS)
            if r.random() < 0.15:
                w = w.upper()
            elif r.random() < 0.15:
                w = w.capitalize()
            text += w + r.choice(SEPARATORS)
        out.append(text.strip() if r.random() < 0.7 else text)
    return out


def main(out_dir):
    bpe = os.path.join(os.environ.get("STUDIO_HOME", os.path.expanduser("~/.studio")), "testdata/clip/bpe_simple_vocab_16e6.txt")
    prompts = HAND_WRITTEN + generated(200 - len(HAND_WRITTEN))
    assert len(prompts) == 200
    with tempfile.TemporaryDirectory() as folder:
        write_tokenizer_files(bpe, folder)
        tok = CLIPTokenizer(f"{folder}/vocab.json", f"{folder}/merges.txt")
        assert tok.fix_text is not None, "ftfy must be installed: diffusers' CLIPTokenizer cleans text with it"
        cases = []
        for p in prompts:
            cases.append({
                "prompt": p,
                "ids": tok(p).input_ids,
                "padded": tok(p, padding="max_length", max_length=77, truncation=True).input_ids,
            })
    import transformers, ftfy
    doc = {"regenerate": REGENERATE, "transformers": transformers.__version__, "ftfy": ftfy.__version__,
           "merges": "testdata/clip/bpe_simple_vocab_16e6.txt (scripts/setup.sh test)", "cases": cases}
    with open(f"{out_dir}/clip-tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
