"""The terms-of-service categories of the review taxonomy: who may use whose content, who owns
what, what the user must not do, how the terms change, and how each side can end them.

Contracts and licences have the general ``ip_license`` and ``termination`` categories
(``tools._review_rules``); terms of service need the finer questions a user asks of them, so these
seven name the direction of a grant and the party that can end the agreement:

- ``content_license``: the user licenses what they supply (content, contributions, feedback,
  names and marks) to the provider or to other users;
- ``license_to_user``: the provider licenses or permits the user to use the service, software,
  content, API or marks;
- ``ownership``: who owns the intellectual property, rights reserved, no transfer of IP;
- ``acceptable_use``: what the user must not do or post;
- ``changes_to_terms``: how the terms may be changed and how users learn of it;
- ``termination_by_user`` / ``termination_by_provider``: ending the agreement, an account, a
  subscription or access, by either side ("either party may terminate" is both).

Deliberate shortcuts: English regular expressions over one sentence at a time, like the rest of
the taxonomy. The direction of a grant and the party that terminates are read from the words
next to the verb (``you grant`` / ``we grant you``, ``you may cancel`` / ``we may terminate
your``), with negative cues for the other direction; a sentence that only says "the Developer"
or "the Customer" is read as the user. Cues were written from the development documents of
``bench/data/review_tos`` and from clauses written for ``tests/tools/test_review_terms.py``; the
test documents were only scored.
"""

# ruff: noqa: E501  (a table of regular expressions reads better one cue per line)

from __future__ import annotations

from tools._review_category import Category, cues

# The user of the service, however the terms name them.
_USER = r"(?:you|customer|developer|licensee|subscriber|member|participant)"
# Words that end something, and the things a user holds that can be ended.
_END = r"(?:terminat\w*|suspend\w*|cancel\w*|close|disable|block|revoke|deny|discontinue|delete|end(?![- ]users?\b)|bar|ban|refuse|cut off)"
_HELD = r"(?:accounts?|access|licen[cs]es?|subscriptions?|memberships?|rights?|agreement|terms|plans?|users?|members?|customers?)"
# Conduct that acceptable-use clauses forbid.
_BAD = (
    r"(?:spam\w*|malware|malicious|virus(?:es)?|trojan|worms|illegal|unlawful|harass\w*|stalk\w*|"
    r"reverse engineer\w*|decompil\w*|disassembl\w*|scrap(?:e|ing)|spider|crawl\w*|robots?|"
    r"impersonat\w*|abus\w*|infring\w*|defam\w*|libel\w*|obscen\w*|pornograph\w*|hateful|"
    r"threaten\w*|phishing|fraud\w*|deceptive|disrupt\w*|overburden|denial of service|hack\w*|"
    r"gain unauthori[sz]ed access|circumvent\w*|rate limit\w*|misrepresent\w*|pyramid schemes?|"
    r"chain letters|unsolicited)"
)

TERMS_TAXONOMY: tuple[Category, ...] = (
    Category(
        "content_license",
        "Licence to your content",
        cues(
            # "you grant us a licence", "Customer grants to GitHub the right", "you give ... permission"
            (
                rf"\b{_USER}s? (?:also |hereby |expressly |irrevocably )*(?:grants?|gives?)\b"
                r".{0,160}?\b(?:licen[cs]es?|rights?|permissions?|access)\b",
                1.0,
            ),
            (
                r"\b(?:licen[cs]es?|rights?|permissions?) (?:that )?you (?:grant|give|granted)\b",
                1.0,
            ),
            (r"\byou (?:to )?grant (?:us|them)\b", 0.75),
            (
                rf"\b{_USER}s? (?:agrees? to )?allows? (?:us|others|other users|\w+) (?:to|certain)\b",
                1.0,
            ),
            (
                rf"\b{_USER}s? (?:hereby )?licen[cs]es? (?:(?:your|its|their|such) (?:contributions?|content)\b|(?:to )?(?:us|the \w+|\w+) (?:to|under)\b)",
                1.0,
            ),
            (
                r"\byour (?:content|contributions?|submissions?|uploads?|posts?|materials?|listings?)\b",
                0.5,
            ),
            (
                r"\b(?:content|contributions?|submissions?|uploads?|posts?)\b.{0,60}\b(?:is|are|be) (?:hereby )?licen[cs]ed\b",
                0.5,
            ),
            (r"\blicen[cs]e (?:grants?|allows)\b|\bthis licen[cs]e\b", 0.5),
            (
                r"\b(?:we|us)\b.{0,20}\b(?:may|can|will)\b.{0,20}\b(?:use|reproduce|display|distribute|modify|publish|share)\b"
                r".{0,40}\b(?:content|material|posts?|photos?|works?|submissions?) (?:that )?you (?:post|submit|upload|share|provide|publish)",
                1.0,
            ),
            (r"\b(?:feedback|suggestions?)\b", 0.5),
            (
                r"\b(?:entitled to|free to|may|can|will|right to|licen[cs]e to) (?:fully )?(?:use|exploit|"
                r"implement|incorporate|exercise)\b.{0,80}\b(?:feedback|suggestions|ideas)\b",
                0.75,
            ),
            (
                r"\b(?:feedback|suggestions?|ideas|comments)\b.{0,80}\b(?:may|can|will) (?:be )?"
                r"(?:used|use|exploit\w*|implement\w*)\b",
                0.75,
            ),
            (
                r"\b(?:entitled to use|free to use|fully exercise|exploit|without restriction|"
                r"royalty-free|irrevocable|perpetual)\b",
                0.25,
            ),
            # the provider granting the user is the other direction; paying is not licensing
            (
                rf"\b(?:we|us) (?:hereby )?grant (?:to )?{_USER}\b|\b{_USER} (?:are|is) granted\b",
                -1.0,
            ),
            (
                r"\bpermission to (?:automatically )?(?:charge|bill|debit)\b|\bauthori[sz]es? (?:us|\w+) to (?:charge|collect|bill)\b",
                -1.0,
            ),
        ),
        (
            "By posting content you grant us a worldwide, royalty-free licence to host, copy and "
            "display it so that we can run the service.",
            "You give other users permission to share what you publish publicly.",
            "If you send us suggestions, we may use them freely without paying you.",
        ),
    ),
    Category(
        "license_to_user",
        "Licence granted to you",
        cues(
            (
                rf"\b(?!{_USER}\b)\w+ (?:hereby )?grants? (?:to )?(?:{_USER}|users|each user)\b"
                r".{0,160}?\b(?:licen[cs]es?|rights?|permissions?)\b",
                1.0,
            ),
            (rf"\b{_USER} (?:are|is) (?:hereby )?granted\b", 1.0),
            (r"\bpermission is (?:hereby )?granted\b", 1.0),
            (r"\blicen[cs]ed,? not sold\b", 1.0),
            (rf"\b(?:we|us) (?:hereby )?authori[sz]e {_USER}\b", 1.0),
            (rf"\b(?:we|us) give {_USER}\b.{{0,60}}\b(?:rights?|licen[cs]e|permission)\b", 1.0),
            (r"\bgrants? users? a\b.{0,60}\blicen[cs]e\b", 1.0),
            (
                rf"\b{_USER} (?:may|can|are free to|are permitted to) (?!not\b)(?:use|access|copy|"
                r"download|display|reproduce|redistribute|distribute|modify|adapt|install|run|"
                r"publish|create a hyperlink|repurpose)\b",
                0.75,
            ),
            (rf"\b{_USER} (?:are|is) (?:free|permitted|welcome) to\b", 0.25),
            (r"\b(?:is|are) (?:hereby |made )?(?:licen[cs]ed|available) (?:to you )?under\b", 0.75),
            (r"\bma(?:de|ke|kes|king) (?:\w+ ){0,6}available under\b", 0.5),
            (
                r"\b(?:pursuant to which|subject to (?:these|this|the) (?:terms|agreement)|in accordance "
                r"with (?:these|this) (?:terms|agreement)|solely for the purposes?|for the sole purpose)\b",
                0.25,
            ),
            (rf"\b{_USER} (?:receives?|gets?|obtains?) a\b.{{0,60}}\blicen[cs]e\b", 1.0),
            (
                r"\b(?:licen[cs]ed|available) under (?:the |a |an )?(?:creative commons|cc[ -]by|cc0|"
                r"gpl|gnu|mit|apache|bsd|mozilla|open[ -]source|free software)",
                0.5,
            ),
            (r"\bfree software\b|\bopen source licen[cs]e\b", 0.5),
            (r"\b(?:authori[sz]ed|entitled|permitted) to use\b", 0.5),
            (r"\blicen[cs]e\b.{0,40}\bto (?:use|access|install|operate|run)\b", 0.5),
            (
                r"\b(?:non-?exclusive|non-?transferable|revocable|limited|personal|royalty-free)\b",
                0.25,
            ),
            # a grant that is denied is no grant
            (
                r"\bgrants? (?:\w+ )?no (?:rights?|licen[cs]es?)\b|\b(?:does|do|will) not grant\b|"
                r"\bdon['’]t grant\b|\bnothing in (?:this|these) (?:agreement|terms) (?:gives|grants)\b",
                -1.0,
            ),
            # the user granting is the other direction; "your content is licensed" too
            (rf"\b{_USER}s? (?:also |hereby )*(?:grants?|gives?) (?:to )?(?:us|\w+)\b", -1.0),
            (
                r"\byour (?:content|contributions?|submissions?|uploads?|posts?|materials?|works?)\b",
                -0.75,
            ),
        ),
        (
            "We grant you a personal, non-exclusive, non-transferable licence to use the service "
            "while these terms are in force.",
            "You may download and display the materials for your own non-commercial use.",
            "Subject to these terms, you are granted a limited right to access the platform.",
        ),
    ),
    Category(
        "ownership",
        "Ownership and reserved rights",
        cues(
            (
                r"\b(?:retains?|keeps?|will remain|remains?)\b.{0,80}\b(?:ownership|all (?:moral )?rights|"
                r"right,? title|title and interest|intellectual property|copyright)",
                1.0,
            ),
            (
                r"\b(?:right,? title,? and interest|ownership|intellectual property rights?)\b.{0,200}"
                r"\b(?:remains?|belongs?|vests?) (?:solely |exclusively )?(?:with|to)\b",
                1.0,
            ),
            (
                rf"\b(?:{_USER}|we|licensors?|each party|party) (?:will |shall |also )?owns?\b(?!\s*[,.;:)])",
                1.0,
            ),
            (r"\b(?:sole|exclusive|rightful) owners?\b", 1.0),
            (
                r"\b(?:content|materials?|software|works?|designs?|code|trademarks?|intellectual property)\b"
                r".{0,100}\b(?:belongs?|(?:is|are) owned by) ",
                1.0,
            ),
            (r"\bowns? all (?:rights?|right,? title|intellectual)", 1.0),
            (r"\ball rights reserved\b|\breserves? all (?:other )?rights\b", 1.0),
            (r"\brights? not (?:expressly )?granted\b.{0,60}\breserved\b", 1.0),
            (r"\b(?:remains?|is|are) (?:the )?(?:sole |exclusive )?property of\b", 1.0),
            (
                r"\b(?:not|nothing in (?:this|these) (?:agreement|terms))\b.{0,30}\b(?:transfers?|"
                r"assigns?|gives?|grants?)\b"
                r".{0,80}\b(?:intellectual property|right,? title|ownership|any rights?)\b",
                1.0,
            ),
            (rf"\bgrants? {_USER} no (?:right|licen[cs]e)\b", 1.0),
            (r"\b(?:not|no) (?:acquire|obtain|take)\b.{0,20}\b(?:any )?ownership\b", 1.0),
            (
                r"\b(?:claims? no|not claim|not take any)\b.{0,40}\b(?:ownership|intellectual property|"
                r"right,? title|rights? (?:in|over|to))",
                1.0,
            ),
            (r"\b(?:proprietary|exclusive) property\b", 1.0),
            (
                r"\b(?:are|is) (?:the )?(?:property|trademarks?|registered trademarks?|service marks?) of\b",
                0.75,
            ),
            (r"\b(?:are|is) (?:trademarks?|service marks?|trade dress)\b", 0.5),
            (r"\bcopyright ©|©", 0.5),
        ),
        (
            "You keep ownership of everything you upload; we claim no rights in it beyond this "
            "licence.",
            "The company owns all right, title and interest in the service and its software.",
            "All rights not expressly granted to you are reserved.",
        ),
    ),
    Category(
        "acceptable_use",
        "Acceptable use",
        cues(
            (r"\b(?:agrees?|promises?|undertakes?) (?:not|never) to\b", 0.75),
            (
                rf"\b(?:{_USER}|users?) (?:may|must|shall|will|should) not\b(?! be able).{{0,60}}\b(?:use|post|"
                r"upload|transmit|share|access|attempt|engage|create|distribute|publish|violate|"
                r"impersonate|intimidate|harass|interfere|repackage|resell|send|collect)",
                1.0,
            ),
            (r"\b(?:must|shall|will|may) not (?:under any circumstances )?violate\b", 1.0),
            (
                r"\b(?:won['’]t|will not|shall not|must not|may not|cannot|not permitted|not allowed|prohibited|forbidden)\b",
                0.25,
            ),
            (r"\b(?:are|is) (?:strictly )?(?:prohibited|forbidden|not allowed)\b", 0.5),
            (
                r"^\W*(?:please )?(?:do not|don['’]t|never) (?:use|post|upload|share|send|attempt|try|"
                r"spam|harass|impersonate|scrape|access|create|publish)\b",
                0.75,
            ),
            (r"\b(?:may|must|can) only (?:use|access)\b", 0.5),
            (
                r"\bshar(?:e|ing) (?:your |their )?(?:passwords?|logins?|credentials|accounts?|tokens?)\b",
                0.75,
            ),
            (
                r"\b(?:acceptable use|prohibited (?:uses?|conduct|content|activit(?:y|ies))|"
                r"use restrictions|conditions of use|community guidelines|user guidelines|"
                r"code of conduct)\b",
                0.75,
            ),
            (rf"\b{_BAD}\b", 0.5),
            (
                r"^\W*(?:\d+\.\s*)*(?:to )?(?:transmit|upload|post|send|harvest|stalk|impersonate|"
                r"interfere|circumvent|publish|disclose|distribute|use any robot)\b",
                0.5,
            ),
            # not breaching the terms by a required disclosure is no restriction
            (
                r"\bwill not (?:be in )?(?:violate|breach)\b.{0,80}\bif (?:you|customer|developer) (?:are|is) required\b",
                -1.0,
            ),
            # disclaimers mention viruses and unauthorised access too
            (r"\b(?:liable|liability|warrant\w*|damages)\b", -0.75),
        ),
        (
            "You agree not to use the service to send spam, spread malware or harass other users.",
            "You must not attempt to gain unauthorised access to our systems or scrape the site.",
            "Prohibited uses include anything illegal, fraudulent or infringing.",
        ),
    ),
    Category(
        "changes_to_terms",
        "Changes to the terms",
        cues(
            (
                r"\b(?:modify|amend|change|update|revise|replace|add to)\b.{0,80}\b(?:these|this|the|"
                r"our) (?:use |legal |master |additional )?(?:terms|agreement|conditions|tos)\b",
                0.75,
            ),
            (
                r"\b(?:these|this|the) (?:use |master )?(?:terms|agreement)\b.{0,60}\b(?:may|will|can)"
                r" (?:only |not )?(?:be )?(?:chang|modif|amend|updat|revis)",
                1.0,
            ),
            (
                r"\b(?:changes?|modifications?|amendments?|revisions?|updated|revised|new) "
                r"(?:to )?(?:the |these |this |our )?(?:terms|agreement|use terms)\b",
                1.0,
            ),
            (
                r"\bcontinu(?:ed|ing|e) (?:to )?(?:use|access|participat\w*)\b.{0,160}\b(?:accept\w*|"
                r"agree\w*|subject to)",
                1.0,
            ),
            (r"\b(?:reserves? the right|sole discretion|from time to time|at any time)\b", 0.25),
            (r"\b(?:material|substantive) (?:changes?|modifications?)\b", 0.5),
            (r"\b(?:notice|notif\w*)\b.{0,60}\b(?:changes?|modifications?|amendments?)\b", 0.5),
            (
                r"\b(?:check|review|revisit)\b.{0,40}\b(?:these|this|the) (?:\w+ )?(?:terms|agreement|page)\b"
                r".{0,40}\b(?:periodically|regularly|for (?:any )?changes|from time to time)",
                1.0,
            ),
            (
                r"\b(?:may|can|will|reserves? the right to) (?:\w+ )?(?:amend|modify|change|update|revise)\b"
                r".{0,40}\b(?:these|this|the) (?:\w+ )?(?:terms|agreement)\b",
                0.5,
            ),
            (r"\bterms (?:may|will) change\b", 1.0),
            # the service or prices changing is not the terms changing
            (r"\b(?:pric\w*|fees?|the service|our services|features?)\b", -0.25),
        ),
        (
            "We may change these terms from time to time and will tell you by email before a "
            "material change takes effect.",
            "If you keep using the service after the new terms take effect, you accept them.",
            "This agreement can be amended only in a writing signed by both parties.",
        ),
    ),
    Category(
        "termination_by_user",
        "Termination by you",
        cues(
            (
                rf"\b{_USER}s? (?:may|can|are free to|has the right to|have the right to)\b(?! not\b)"
                r".{0,40}\b(?:cancel|terminate|close|delete|end|stop using|stop accessing|discontinue|"
                r"unsubscribe|opt out|deactivate|withdraw from)",
                1.0,
            ),
            (r"^\W*to (?:cancel|close|delete|terminate) (?:your|the|this)\b", 1.0),
            (
                rf"\bif {_USER} (?:wish|wishes|want|wants|choose|chooses|decide|decides|elect|elects)"
                r" to (?:cancel|terminate|close|end|stop)",
                1.0,
            ),
            (
                rf"\b{_USER} (?:want|wish|would like|no longer wish) to (?:cancel|terminate|close)",
                1.0,
            ),
            (
                r"\b(?:either party|either you or \w+|both parties|each party|you or we|either of us|"
                r"by a party|by either party)\b.{0,60}\b(?:terminat|end|cancel)",
                1.0,
            ),
            (r"\bterminated by (?:either party|a party|you)\b", 1.0),
            (r"\bto cancel\b.{0,20}\byou (?:can|may|must|should)\b", 1.0),
            (r"\bcan be cancell?ed\b", 0.75),
            (rf"\b(?:cancel|close|delete|terminate) (?:your|its) (?:{_HELD}|upgrade)", 0.5),
            (r"\bat any time\b|\bno questions asked\b", 0.25),
            # surviving termination is not a way to terminate
            (r"\bsurviv\w*", -0.75),
            # the provider ending the user's account is the other direction
            (
                rf"\b(?:we|us)\b.{{0,20}}\b(?:may|will|can|reserves? the right|ha(?:s|ve) the right)\b"
                rf".{{0,40}}\b{_END}",
                -1.0,
            ),
        ),
        (
            "You can close your account at any time from the settings page.",
            "If you want to end this agreement, simply stop using the service.",
            "Either party may terminate this agreement on thirty days' written notice.",
        ),
    ),
    Category(
        "termination_by_provider",
        "Termination or suspension by the provider",
        cues(
            (
                rf"\b(?!{_USER}\b)\w+ (?:(?:may|can|will|shall)(?! be\b)|reserves? the right to|"
                r"ha(?:s|ve) the right(?: \(but not the obligation\))? to|(?:is|are) entitled to)\b"
                rf".{{0,60}}?\b{_END}\b.{{0,40}}?\b(?:(?:your|the user['’]s|users['’]|that user['’]s|"
                rf"{_USER}['’]s|this|these|the|any) (?:\w+ ){{0,2}})?{_HELD}\b",
                1.0,
            ),
            (
                r"\b(?:may|will|shall|can) (?:result in|lead to)\b.{0,80}\b(?:terminat\w*|suspen\w*|"
                r"cancell?ation|ban)",
                1.0,
            ),
            (
                r"\b(?:will|shall) (?:automatically |immediately )?terminate\b.{0,80}\b(?:if|upon|the licen[cs]e|your|the user)",
                1.0,
            ),
            (r"\bterminates? (?:immediately|automatically)\b", 0.75),
            (
                r"\b(?:access|accounts?|licen[cs]es?|rights?|use|memberships?)\b.{0,80}\b(?:may|will|shall) "
                r"be (?:temporarily |permanently |immediately )?(?:terminated|suspended|revoked|"
                r"cancell?ed|disabled|limited|discontinued|deleted|closed|deactivated|blocked|banned)",
                1.0,
            ),
            (
                r"\b(?:either party|either you or \w+|both parties|each party|you or we|either of us|"
                r"by a party|by either party)\b.{0,60}\b(?:terminat|end|cancel)",
                1.0,
            ),
            (r"\brefuse (?:service|the use)\b", 0.75),
            (r"\brepeat infringers?\b", 0.5),
            (r"\b(?:with or without (?:cause|notice)|sole discretion|for any reason)\b", 0.25),
            # the user ending it is the other direction; surviving termination is not ending
            (r"\byou (?:may|can) (?:cancel|close|terminate|end|stop)\b", -0.75),
            (r"\bsurviv\w*", -0.75),
        ),
        (
            "We may suspend or terminate your account at any time if you break these terms.",
            "Your licence ends automatically if you fail to comply with this agreement.",
            "The provider reserves the right to refuse service to anyone.",
        ),
    ),
)
