"""One-line synopses for :mod:`tools.summarize` when the budget is a sentence or a title.

At ``max_words`` of :data:`SHORT_BUDGET` or fewer, a summary built from whole source sentences
is the first sentence cut short, which reads badly and says little. So:

1. The model writes a synopsis: a few-shot ``Text:`` / ``In short:`` transcript for a base
   model (the default Gemma 3 270M continues patterns, it does not follow instructions), an
   instruction in a chat turn for an instruction-tuned model (ChatML, e.g. Qwen2.5).
2. :func:`problem` checks it: not empty, within the budget (+20%), grounded in the source
   (most of its content words occur there), not a copy of the lead sentence, not a copy of
   the examples, not repeating itself.
3. When it fails, :func:`compress` makes a short sentence out of the source instead: the lead
   sentence (or, when that is background, the first sentence that says what the text does)
   loses its parentheses, asides, relative and trailing clauses and framing ("In this paper,
   we propose", "This package provides"), and keeps its head within the budget.

Where the examples come from: :data:`EXAMPLES` are three abstract/title pairs of the ACLSum
*train* split (PyPI ``aclsum`` 0.1.2, MIT; Takeshita et al., NAACL 2024), which
``bench/bench_summarize.py`` uses as its dev split; the reported figures are on the *test*
split. Titles are the closest public analogue of a one-line synopsis that a data package
ships. Deliberate shortcuts: grounding is word overlap, not entailment; clause dropping is a
handful of English patterns, not a parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.llm import LLM, few_shot
from tools._summarize_abstract import content_words

SHORT_BUDGET = 20
"""``max_words`` at or below which :mod:`tools.summarize` writes a synopsis."""
INPUT_LABEL = "Text"
OUTPUT_LABEL = "In short"
LEAD_COPY = 0.8
"""A synopsis whose words start like the lead for this share of its length, or that holds this
share of the lead's words in order, is a copy of the lead (a cut first sentence)."""
GROUNDED = 0.5
"""Share of a synopsis' content words that must occur in the source."""

EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "This paper explores log-based query expansion (QE) models for Web search. Three "
        "lexicon models are proposed to bridge the lexical gap between Web documents and user "
        "queries. These models are trained on pairs of user queries and titles of clicked "
        "documents. Evaluations on a real world data set show that the lexicon models, "
        "integrated into a ranker-based QE system, not only significantly improve the document "
        "retrieval performance but also outperform two state-of-the-art log-based QE methods.",
        "Learning lexicon models from search logs for query expansion",
    ),
    (
        "Traditional noun phrase coreference resolution systems represent features only of "
        "pairs of noun phrases. In this paper, we propose a machine learning method that "
        "enables features over sets of noun phrases, resulting in a first-order probabilistic "
        "model for coreference. We outline a set of approximations that make this approach "
        "practical, and apply our method to the ACE coreference dataset, achieving a 45% error "
        "reduction over a comparable method that only considers features of pairs of noun "
        "phrases.",
        "First-order probabilistic models for coreference resolution",
    ),
)

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_STOPS_AT_END = frozenset(
    "a an the and or but of to in on for with by from as at that which who whose where when "
    "while is are was were be been its their his her our your this these those than via into "
    "using such".split()
)
_FRAMING = re.compile(
    r"^(?:(?:in|with) (?:this|the present|our) (?:paper|article|work|study|note|document|"
    r"report|chapter|section|post|package|library|release|version)\s*,?\s*"
    r"|here\s*,?\s*|recently\s*,\s*|however\s*,\s*|moreover\s*,\s*|furthermore\s*,\s*"
    r"|additionally\s*,\s*|in addition\s*,\s*|finally\s*,\s*|overall\s*,\s*)",
    re.I,
)
_WE = re.compile(
    r"^(?:we|i|the authors)\s+(?:propose|present|introduce|describe|develop|design|study|"
    r"investigate|explore|address|report|show|demonstrate|provide|offer|build|create)s?\s+"
    r"(?:that\s+)?",
    re.I,
)
_THIS_X = re.compile(
    r"^(?:this|the)\s+(?:paper|article|work|study|package|library|module|tool|program|"
    r"project|application|plugin|extension|crate|utility|software|repository)\s+"
    r"(?:(?:also|further)\s+)?(?:provides|presents|proposes|introduces|describes|contains|"
    r"offers|implements|explores|investigates|addresses|is|includes|adds|gives|supports|"
    r"allows you to|lets you|helps you|enables|makes it easy to)\s+",
    re.I,
)
_ASIDES = (
    re.compile(r"\s*\([^()]*\)"),
    re.compile(r"\s*\[[^\[\]]*\]"),
    re.compile(
        r",\s*(?:which|who|whose|where|such as|e\.g\.|i\.e\.|including|like|"
        r"especially|particularly|for example|for instance)\b[^,;]*(?=,)"
    ),
)
_TAIL = re.compile(
    r"(?:[;:]|\s[-–—]\s|,\s*(?:which|who|whose|where|while|whereas|although|though|because|"
    r"since|so that|so|thus|thereby|resulting in|making|allowing|enabling|leading to|"
    r"such as|e\.g\.|i\.e\.|including|as well as|and then|but)\b).*$",
    re.I,
)


@dataclass(frozen=True)
class Synopsis:
    """A one-line synopsis, or ``problem`` saying why the model's could not be used."""

    text: str
    problem: str | None


def is_instruct(llm: LLM) -> bool:
    """Whether ``llm`` is driven by instructions in chat turns rather than by examples."""
    return type(llm.chat_format).__name__ == "ChatMLChatFormat"


def prompt_for(text: str) -> tuple[str, tuple[str, ...]]:
    """The base model's few-shot prompt for ``text`` and its stop sequences."""
    p = few_shot(EXAMPLES, text, input_label=INPUT_LABEL, output_label=OUTPUT_LABEL)
    return p.prompt, p.stop


def fits(llm: LLM, text: str, target: int) -> bool:
    """Whether the prompt for ``text`` and a reply of ``target`` words fit the context window."""
    room = 2 * target + 16
    if is_instruct(llm):
        return llm.count_tokens(text) + 96 + room <= llm.n_ctx
    return llm.count_tokens(prompt_for(text)[0]) + room <= llm.n_ctx


def generate(llm: LLM, text: str, target: int, lead: str) -> Synopsis:
    """The model's synopsis of ``text`` in at most ``target`` words, checked by :func:`problem`."""
    max_tokens = 2 * target + 16
    if is_instruct(llm):
        ask = (
            f"Summarize the following text in one line of at most {target} words. Say what it "
            f"is or does; do not copy its first sentence. Reply with the line only.\n\n{text}"
        )
        done = llm.chat([{"role": "user", "content": ask}], max_tokens=max_tokens, temperature=0)
    else:
        prompt, stop = prompt_for(text)
        done = llm.complete(
            prompt,
            max_tokens=max_tokens,
            temperature=0,
            repeat_penalty=1.1,
            stop=[*stop, "\n", f"{INPUT_LABEL}:", f"{OUTPUT_LABEL}:"],
        )
    reply = " ".join(done.text.split()).strip(" \"'“”*#-")
    return Synopsis(reply, problem(reply, text, lead, target))


def problem(reply: str, source: str, lead: str, target: int) -> str | None:
    """Why ``reply`` is not a usable synopsis of ``source``, or None when it is.

    Example:
        >>> problem("Happy cats purr", "Cats purr when they are happy. Dogs bark.",
        ...         "Cats purr when they are happy.", 12) is None
        True
        >>> problem("Cats purr when they are happy.", "Cats purr when they are happy. Dogs bark.",
        ...         "Cats purr when they are happy.", 12)
        'it copies the first sentence'
    """
    words = [w.lower() for w in _WORD.findall(reply)]
    if len(words) < 2:
        return "it is empty"
    if len(words) > target * 1.2:
        return f"it has {len(words)} words, more than {target}"
    if len(set(words)) < 0.7 * len(words):
        return "it repeats itself"
    example_words = {w.lower() for _, out in EXAMPLES for w in _WORD.findall(out)}
    known = {w.lower() for w in _WORD.findall(source)}
    if sum(w in example_words and w not in known for w in words) > 0.3 * len(words):
        return "it copies the prompt's examples"
    content = content_words(reply)
    source_content = set(content_words(source))
    if content and sum(w in source_content for w in content) < GROUNDED * len(content):
        return "it is not grounded in the text (most of its words are not there)"
    lead_words = [w.lower() for w in _WORD.findall(lead)]
    prefix = next(
        (i for i, (a, b) in enumerate(zip(words, lead_words, strict=False)) if a != b), None
    )
    prefix = min(len(words), len(lead_words)) if prefix is None else prefix
    if lead_words and (
        prefix >= LEAD_COPY * len(words)
        or _in_order(words, lead_words) >= LEAD_COPY * len(lead_words)
    ):
        return "it copies the first sentence"
    return None


def _in_order(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two word lists."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def compress(sentence: str, target: int) -> str:
    """``sentence`` shortened to at most ``target`` words by dropping clauses, head kept.

    Example:
        >>> compress("In this paper, we propose a fast parser (FP), which uses beams, "
        ...          "because speed matters.", 12)
        'A fast parser'
        >>> compress("Requests is an elegant and simple HTTP library for Python, built for "
        ...          "human beings.", 12)
        'Requests is an elegant and simple HTTP library for Python'
    """
    text = " ".join(sentence.split()).rstrip(".!? ")
    for _ in range(2):
        text = _FRAMING.sub("", text)
        text = _WE.sub("", text)
        text = _THIS_X.sub("", text)
    for pattern in _ASIDES:
        text = pattern.sub("", text)
    shorter = _TAIL.sub("", text).strip(" ,;:")
    if len(_WORD.findall(shorter)) >= 3:
        text = shorter
    words = text.split()
    if len(words) > target:
        commas = [i for i in range(target) if words[i].endswith(",") and i + 1 >= target / 2]
        words = words[: commas[-1] + 1] if commas else words[:target]
        while len(words) > 3 and words[-1].lower().strip(",;:") in _STOPS_AT_END:
            words.pop()
        text = " ".join(words)
    text = text.strip(" ,;:-–—")
    return text[:1].upper() + text[1:] if text else text


def pick_sentence(sentences: list[str]) -> str:
    """The sentence a compressed synopsis starts from: the lead, unless it is background.

    A lead that is framing only ("Recently, many works have ...") is skipped for the first of
    the next two sentences that says what this text does ("we propose", "this package ...").

    Example:
        >>> pick_sentence(["Parsing is hard.", "We propose a fast parser.", "It works."])
        'We propose a fast parser.'
    """
    if not sentences:
        return ""
    for s in sentences[:3]:
        head = _FRAMING.sub("", " ".join(s.split()))
        if _WE.match(head) or _THIS_X.match(head):
            return s
    return sentences[0]
