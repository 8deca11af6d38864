"""The review taxonomy: clause categories, their weighted cue patterns and prototype sentences.

The contract and licence categories are here; the terms-of-service ones (licence to your
content, licence to you, ownership, acceptable use, changes to the terms, termination by you
and by the provider) are in ``tools._review_terms`` and follow them in :data:`TAXONOMY`.

Each category has

- cues: ``(regex, weight)`` pairs; a span's rule score is the sum of the weights of the cues it
  matches, and a span with a score of at least :data:`RULE_THRESHOLD` is a rules finding;
- prototypes: a few sentences written for this module (not taken from any evaluation text)
  that the embedding classifier compares spans with;
- a plain-language label for the report.

Deliberate shortcuts: cues are English-only regular expressions over one sentence at a time, so
a clause whose key words fall in the heading ("Governing law") and the next sentence is caught
only when the sentence splitter keeps them together. The weights are hand-set (1.0 = decisive
on its own, 0.5 = needs a second cue); the threshold was checked on the dev split of
``bench/data/review_labels.json``.
"""

from __future__ import annotations

from tools._review_category import Category
from tools._review_category import cues as _c
from tools._review_terms import TERMS_TAXONOMY

RULE_THRESHOLD = 1.0
"""A span whose summed cue weights reach this is a rules finding."""


_PARTY_ROLE = r"(licensor|licensee|customer|supplier|vendor|provider|company|client|user|you)"

_CONTRACT_TAXONOMY: tuple[Category, ...] = (
    Category(
        "parties",
        "Parties",
        _c(
            (r"\b(is|are|entered into) (made )?(by and )?between\b", 1.0),
            (r"\bagreement between\b", 1.0),
            (rf"\(\s*[\"“']{_PARTY_ROLE}[\"”']\s*\)", 1.0),
            (
                rf"[\"“']{_PARTY_ROLE}[\"”']\s*(\([^)]{{0,40}}\)\s*)?(means|shall mean|refers to|is)\b",  # noqa: E501
                1.0,
            ),
            (r"\bis addressed as\b", 1.0),
            (r"\b(inc\.|llc|gmbh|ltd\.?|corporation)[^()]{0,40}\(\s*(the )?[\"“']", 1.0),
            (r"\breferred to (herein )?as\b", 0.5),
            (r"\b(inc\.|llc|l\.l\.c\.|gmbh|ltd\.?|corporation|s\.r\.o\.)", 0.5),
        ),
        (
            "This Agreement is entered into between Acme Corporation and the Customer.",
            '"Licensee" means the individual or legal entity exercising rights under this License.',
            'Example Software Ltd. ("Licensor") and you ("Licensee") agree as follows.',
        ),
    ),
    Category(
        "effective_date",
        "Effective date",
        _c(
            (r"\beffective (as of|on|from) (the )?(date|[A-Z0-9])", 1.0),
            (r"[\"“']effective date[\"”']", 1.0),
            (r"\beffective date\b", 0.5),
            (r"\b(take|takes|shall take) effect\b", 1.0),
            (r"\bcommenc(e|es|ing) on\b", 0.5),
        ),
        (
            "This Agreement is effective as of the date on which it is signed by both parties.",
            "These terms take effect when you first use the service.",
            "The licence becomes effective on the date the software is first delivered.",
        ),
    ),
    Category(
        "term_renewal",
        "Term and renewal",
        _c(
            (r"\b(initial|subscription|renewal|evaluation) (term|period)\b", 1.0),
            (r"\b(automatically )?renew(s|ed|al)?\b", 0.5),
            (r"\bremain(s)? in (full )?(force|effect) until\b", 1.0),
            (r"\bfor (a|an initial) (term|period) of\b", 1.0),
            (r"\b(the )?term of this (agreement|license|licence)\b", 0.5),
            (r"\bno time limitation\b", 1.0),
            (r"\b(annual|yearly|monthly) (subscription|renewal|maintenance)\b", 0.5),
            (r"\bnot a perpetual licen[cs]e\b", 1.0),
        ),
        (
            "The initial term of this Agreement is one year and it renews automatically for "
            "successive one-year periods.",
            "This Agreement remains in force until terminated by either party.",
            "Your subscription period is twelve months and may be renewed by paying the renewal "
            "fee.",
        ),
    ),
    Category(
        "termination",
        "Termination",
        _c(
            (r"\bterminat(e|es|ed|ion)\b", 0.75),
            (r"\b(this|the) (agreement|license|licence|eula|terms)\b.{0,60}\bterminat", 0.5),
            (r"\bupon (the )?terminat", 0.5),
            (
                r"\bterminat\w*\b.{0,40}\b(your|the|this|these|any) (rights|licen[cs]es?|agreement|terms|access|eula|sla)\b",  # noqa: E501
                1.0,
            ),
            (r"\b(lapses?|cease to be valid) (immediately|automatically)\b", 1.0),
            (r"\bmay (cancel|suspend) your account\b", 1.0),
            (r"\b(material(ly)?) breach", 0.25),
        ),
        (
            "Either party may terminate this Agreement on thirty days' written notice.",
            "Your rights under this License terminate automatically if you fail to comply with "
            "any of its terms.",
            "Upon termination you must stop using the software and destroy all copies.",
        ),
    ),
    Category(
        "governing_law",
        "Governing law",
        _c(
            (r"\bgoverned by\b.{0,80}\blaws?\b", 1.0),
            (
                r"\bconstrued (solely )?(and enforced )?(exclusively )?(in accordance with|under)\b",  # noqa: E501
                1.0,
            ),
            (r"\bgoverning law\b", 1.0),
            (r"\bchoice of law\b", 1.0),
            (r"\bapplicable law\b\s*$", 0.5),
            (r"\b[a-z]+ (state )?law governs\b", 1.0),
            (r"\bconflicts? of laws?\b", 0.5),
        ),
        (
            "This Agreement is governed by the laws of the State of New York.",
            "These terms are construed in accordance with the law of England and Wales, without "
            "regard to its conflict of laws rules.",
        ),
    ),
    Category(
        "jurisdiction",
        "Jurisdiction and disputes",
        _c(
            (r"\b(exclusive|non-exclusive|personal) jurisdiction\b", 1.0),
            (r"\bjurisdiction of\b.{0,60}\bcourts?\b", 1.0),
            (r"\bcourts? (of|in|at|for|seated)\b", 0.75),
            (r"\bvenue\b", 0.5),
            (r"\barbitrat(ion|or)\b", 0.75),
            (r"\b(binding|final)\b.{0,30}\barbitration\b", 1.0),
            (r"\bjurisdiction\b", 0.5),
            (r"\bclaims?\b.{0,120}\bbrought\b", 0.5),
            (r"\b(litigation|dispute|action)s?\b.{0,80}\b(brought|filed|settled|resolved)\b", 0.5),
            (r"\bsubmit to\b", 0.25),
        ),
        (
            "Any dispute arising out of this Agreement shall be brought exclusively in the courts "
            "of Paris, France.",
            "The parties submit to the exclusive jurisdiction of the state and federal courts "
            "located in Delaware.",
            "All disputes shall be finally settled by binding arbitration.",
        ),
    ),
    Category(
        "limitation_of_liability",
        "Limitation of liability",
        _c(
            (r"\b(shall|will|be) not be liable\b", 1.0),
            (r"\bin no event\b.{0,200}\bliable\b", 1.0),
            (r"\blimitation of liability\b", 1.0),
            (r"\b(aggregate|total|entire) liability\b", 1.0),
            (r"\b(consequential|incidental|indirect|special) damages\b", 0.75),
            (r"\bliability\b.{0,60}\b(limited|shall not exceed|excluded)\b", 1.0),
            (r"\bno liability\b", 1.0),
            (r"\bdisclaims? liability\b", 1.0),
            (r"\brecover\b.{0,40}\bdamages\b", 0.75),
            (r"\bliable\b", 0.5),
        ),
        (
            "In no event shall the licensor be liable for any indirect, incidental or "
            "consequential damages.",
            "The supplier's total liability shall not exceed the fees paid in the twelve months "
            "before the claim.",
        ),
    ),
    Category(
        "indemnification",
        "Indemnification",
        _c(
            (r"\bindemnif(y|ies|ied|ication)\b", 1.0),
            (r"\bhold\b.{0,80}\bharmless\b", 1.0),
            (r"\bdefend\b.{0,40}\b(against|from)\b", 0.5),
        ),
        (
            "You agree to indemnify, defend and hold the company harmless from any claims "
            "arising from your use of the service.",
            "The supplier shall indemnify the customer against third-party claims of infringement.",
        ),
    ),
    Category(
        "warranty_disclaimer",
        "Warranty disclaimer",
        _c(
            (r"[\"“']?\bas[ -]is\b[\"”']?", 1.0),
            (r"\bwithout (any )?warrant(y|ies)\b", 1.0),
            (r"\bno warrant(y|ies)\b", 1.0),
            (r"\bdisclaim(s|ed)?\b.{0,80}\bwarrant", 1.0),
            (r"\bmerchantability\b", 1.0),
            (r"\bfitness for a particular purpose\b", 0.5),
            (r"\bdoes not warrant\b", 1.0),
        ),
        (
            'The software is provided "as is", without warranty of any kind, express or implied.',
            "The licensor disclaims all implied warranties, including merchantability and "
            "fitness for a particular purpose.",
        ),
    ),
    Category(
        "confidentiality",
        "Confidentiality",
        _c(
            (r"\bconfidential information\b", 1.0),
            (
                r"\b(keep|hold|maintain|treated as|treat)\b.{0,60}\b(in )?confiden(ce|tial|tiality)\b",  # noqa: E501
                1.0,
            ),
            (r"\bconfidentiality\b", 0.75),
            (r"\b(insure|ensure|protect|preserve)\b.{0,30}\bconfidentiality\b", 1.0),
            (r"\bnon-?disclosure\b", 1.0),
            (r"\btrade secrets?\b", 0.5),
            (r"\bnot (be )?disclose", 0.5),
        ),
        (
            "Each party shall keep the other party's confidential information secret and use it "
            "only to perform this Agreement.",
            "The recipient shall not disclose confidential information to any third party.",
        ),
    ),
    Category(
        "ip_license",
        "IP ownership and licence grant",
        _c(
            (r"\bgrants?\b.{0,80}\b(licen[cs]e|right)s?\b", 1.0),
            (r"\b(non-exclusive|nonexclusive|royalty-free|worldwide|irrevocable|perpetual)\b", 0.5),
            (r"\blicensed,? not sold\b", 1.0),
            (r"\b(all )?(right,? )?title,? and interest\b", 1.0),
            (r"\bintellectual property\b", 0.5),
            (r"\bcopyrights?\b", 0.25),
            (r"\bpermission is (hereby )?granted\b", 1.0),
            (r"\b(are|is) permitted provided that\b", 1.0),
            (r"\byou may (copy|distribute|modify|convey|redistribute|use)\b", 1.0),
            (r"\bexclusive property\b", 1.0),
            (r"\bownership\b", 0.5),
            (r"\breserves? all (other )?rights\b", 1.0),
        ),
        (
            "The licensor grants you a non-exclusive, worldwide licence to use, copy and modify "
            "the software.",
            "All intellectual property rights in the software remain the exclusive property of "
            "the licensor.",
            "You may copy and distribute the program provided that you keep this notice.",
        ),
    ),
    Category(
        "assignment",
        "Assignment",
        _c(
            (
                r"\bassign(s|ed|ment)?\b.{0,80}\b(agreement|rights|terms|obligations|license|licence)\b",
                1.0,
            ),
            (r"\b(may not|shall not|cannot|no)\b.{0,40}\btransfer\b", 0.75),
            (r"\bnon-?transferable\b", 0.5),
            (r"\b(permanently )?transferred\b.{0,60}\b(recipient|agrees)\b", 0.75),
            (r"\btransfer\b.{0,40}\b(this agreement|the licen[cs]e|your rights|any rights)\b", 1.0),
            (r"\bsuccessors and assigns\b", 0.75),
            (r"\btransfer\b.{0,20}\b(is|are) (not )?(permitted|possible|allowed)\b", 0.5),
        ),
        (
            "Neither party may assign this Agreement without the prior written consent of the "
            "other party.",
            "You may not transfer your rights under this licence to any third party.",
        ),
    ),
    Category(
        "non_compete",
        "Non-compete",
        _c(
            (r"\bcompet(e|es|ing|ition|itive)\b", 0.75),
            (r"\bnon-?compet", 1.0),
            (r"\b(the same|similar|competing),? functionality\b", 0.75),
            (r"\bnot\b.{0,60}\b(compete|competing)\b", 0.5),
            (r"\b(that|which|to) compete with\b", 1.0),
            (r"\bbasis for (creating|developing) a (product|service)\b", 0.5),
        ),
        (
            "You may not use the software to build a product that competes with the licensor's "
            "products.",
            "During the term the contractor shall not engage in any competing business.",
        ),
    ),
    Category(
        "payment",
        "Payment",
        _c(
            (r"\b(fee|fees|price|prices|pricing|royalt(y|ies)|invoices?|payments?|payable)\b", 0.5),
            (r"\b(pay|paid|charge|charged|charges)\b", 0.5),
            (r"\b(taxes|vat|withholding)\b", 0.5),
            (r"\bpurchase\b", 0.25),
            (r"\brefund", 0.5),
            (r"[$€£]\s?\d", 0.5),
            (r"\bnet \d+ days\b", 1.0),
            (r"\b(annual|monthly|renewal|license|licence|subscription) fees?\b", 1.0),
            (r"\b(compensation|consideration) (in exchange|for)\b", 1.0),
        ),
        (
            "The customer shall pay all fees within thirty days of the invoice date.",
            "Prices exclude taxes, which the customer must pay.",
            "You may charge a fee for the physical act of transferring a copy.",
        ),
    ),
    Category(
        "data_protection",
        "Data protection",
        _c(
            (r"\bpersonal(ly)? (data|information|identif\w+)\b", 1.0),
            (r"\bprivacy\b", 0.75),
            (r"\b(gdpr|ccpa|data protection|data processing)\b", 1.0),
            (r"\bcustomer (specific )?data\b", 0.75),
            (r"\bcollect(ed|s|ion)?\b.{0,60}\b(information|data)\b", 0.5),
            (r"\b(information|data)\b.{0,60}\bcollect", 0.5),
            (r"\bidentifies you\b", 1.0),
            (
                r"\b(customer|user|personal) (information|data)\b.{0,80}\b(disclos|confidential|collect|share)",  # noqa: E501
                1.0,
            ),
        ),
        (
            "We process your personal data in accordance with our privacy policy and applicable "
            "data protection law.",
            "The software does not collect or transmit any personal information about the user.",
        ),
    ),
)

TAXONOMY: tuple[Category, ...] = _CONTRACT_TAXONOMY + TERMS_TAXONOMY
"""Every category, contracts' first, in report order."""

CATEGORIES: tuple[str, ...] = tuple(c.id for c in TAXONOMY)
"""The taxonomy's snake_case ids, in report order."""

LABELS: dict[str, str] = {c.id: c.label for c in TAXONOMY}

OTHER_PROTOTYPES: tuple[str, ...] = (
    "If any provision of this Agreement is held invalid, the remainder shall remain in effect.",
    "All notices under this Agreement shall be in writing.",
    "This Agreement constitutes the entire agreement between the parties.",
    "The headings are for convenience only.",
    "The software is subject to export control laws.",
    "Source code means the preferred form of the work for making modifications to it.",
    "Please read this document carefully.",
    "Contact us by email with any questions.",
)
"""Boilerplate that belongs to no category: a span closer to these than to its best category's
prototypes is not an embedding finding."""


def rule_scores(text: str) -> dict[str, float]:
    """Summed cue weights per category for one span (categories with no cue are left out).

    Example:
        >>> rule_scores("This Agreement is governed by the laws of Germany.")["governing_law"]
        1.0
    """
    out: dict[str, float] = {}
    for cat in TAXONOMY:
        score = sum(w for pattern, w in cat.cues if pattern.search(text))
        if score:
            out[cat.id] = score
    return out
