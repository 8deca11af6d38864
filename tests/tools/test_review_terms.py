"""The terms-of-service categories of tools.review, on clauses written for these tests.

Each category gets sentences that must reach the rules threshold and look-alikes that must not
(the other direction of a grant, the other party ending things, disclaimers that mention the same
words). None is taken from bench/data/review_tos, which measures the rules on real documents.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools._review_rules import RULE_THRESHOLD, rule_scores
from tools._review_terms import TERMS_TAXONOMY
from tools.review import CATEGORIES, review

TERMS = [c.id for c in TERMS_TAXONOMY]

POSITIVE = {
    "content_license": [
        "By uploading photos, you grant the company a non-exclusive, transferable, royalty-free, "
        "worldwide licence to use them.",
        "You hereby give us permission to host, store and display any recipes you post.",
        "Each member grants the other members the right to view and comment on shared boards.",
        "You license your contributions to us under the same open source licence as the project.",
        "Any ideas or suggestions you send may be used by us without restriction or payment to "
        "you.",
        "You allow us to show your company name and logo in our list of customers.",
        "The licence you give us ends when you delete the file, unless someone else copied it.",
        "Your drawings stay yours, but you grant us the rights we need to run the gallery.",
        "In posting material, the Member licenses the Operator to reproduce and adapt it.",
        "We may use any photos you upload to promote the service.",
        "We are free to use any feedback you give us, without owing you anything.",
        "The company will be entitled to use your suggestions for any purpose.",
    ],
    "license_to_user": [
        "Subject to these terms, we grant you a revocable, non-exclusive licence to install the "
        "app on devices you own.",
        "The publisher hereby grants each user a personal right to read the archived articles.",
        "You may copy and print pages for your personal reference.",
        "Permission is granted to make one copy of the handbook for personal use.",
        "Our documentation is available under the Creative Commons Attribution licence.",
        "We give you a limited right to use the software while your subscription is active.",
        "You receive a non-transferable licence to use the reports inside your organisation.",
        "Licensor grants Licensee a non-exclusive licence to run the Software on one server.",
        "The Service is licensed, not sold, to you.",
        "We authorise you to view and download the articles for personal use.",
        "We have made the manual available under the MIT licence.",
        "Customer may display the logos solely for the purpose of promoting its membership.",
    ],
    "ownership": [
        "You keep all intellectual property rights in the designs you upload.",
        "We own the platform, including its code, its look and its trademarks.",
        "Nothing in these terms transfers any intellectual property rights to you.",
        "All rights not expressly granted in these terms are reserved by the company.",
        "The software remains the property of the licensor at all times.",
        "We do not claim ownership of anything you post.",
        "Copyright © 2024 Example Ltd. All rights reserved.",
        "All content on the site, including text and images, belongs to the Company.",
        "The Company is the sole owner of the Platform.",
        "You will own the outputs the tool generates for you.",
    ],
    "acceptable_use": [
        "You must not upload viruses or other malicious code.",
        "Users may not post content that is hateful, defamatory or obscene.",
        "Do not use bots to scrape listings from the marketplace.",
        "The following are prohibited: spamming, phishing and distributing malware.",
        "You agree not to reverse engineer or decompile the mobile app.",
        "You will not use the forum to harass other members or break the law.",
        "You may only use the API within the published rate limits.",
        "Sharing your password with anyone else is not allowed.",
        "Misuse of the service, such as sending unsolicited bulk email, is forbidden.",
    ],
    "changes_to_terms": [
        "We may revise these terms at any time by posting the updated version on this page.",
        "We will notify you by email at least 14 days before any material change to these terms "
        "takes effect.",
        "By continuing to use the app after an update, you agree to the revised terms.",
        "The company may amend this agreement unilaterally.",
        "This agreement can be changed only in a document signed by both of us.",
        "Please check these terms regularly for changes.",
        "Any amendment to these terms will be published on our website.",
    ],
    "termination_by_user": [
        "You can delete your account at any time from the privacy settings.",
        "You may end this agreement by giving us 30 days' written notice.",
        "If you no longer want the service, you can cancel your subscription online.",
        "To close your account, send an email to the support team.",
        "Either party may end the contract on one month's notice.",
        "The customer may terminate this agreement for convenience.",
        "If you wish to stop, simply stop using the service.",
        "Subscribers may unsubscribe at any time with the link in every email.",
        "You have the right to withdraw from this contract within 14 days.",
    ],
    "termination_by_provider": [
        "We reserve the right to suspend or close accounts that break these rules.",
        "The company may cut off your access without notice.",
        "Your account may be disabled if we detect fraud.",
        "Access will be revoked automatically when the trial period is over.",
        "We can end your membership for any reason.",
        "Breaking these rules may lead to a permanent ban.",
        "Either party may terminate this agreement on sixty days' notice.",
        "Your licence will terminate automatically if you breach any of these terms.",
        "Accounts that are inactive for two years will be deleted.",
        "We may ban users who repeatedly break the rules.",
    ],
}

NEGATIVE = {
    "content_license": [
        "We grant you a licence to use the app on one device.",
        "You give us permission to charge your card each month.",
        "You are responsible for your content and for backing it up.",
        "Your content is stored in data centres in the European Union.",
    ],
    "license_to_user": [
        "You grant us a licence to display your posts.",
        "You may not copy the software.",
        "You may cancel your plan at any time.",
        "We may use your content to improve the service.",
        "Your uploads are hereby licensed under the Creative Commons Attribution licence.",
        "Buying a plan grants you no right to use our trademarks.",
        "Nothing in these terms grants you any licence to our patents.",
    ],
    "ownership": [
        "You are responsible for the content you own.",
        "We will retain your data for thirty days after you leave.",
        "The remaining provisions remain in full force and effect.",
        "Each party will bear its own costs.",
        "The account belongs to the person who created it.",
    ],
    "acceptable_use": [
        "We will not be liable for any viruses or harmful components.",
        "You may not assign this agreement without our consent.",
        "You must not settle any claim without our written consent.",
        "You agree not to assert your moral rights against us.",
        "If you lose your password, you may not be able to access your files.",
        "You will not breach this agreement if you are required by law to disclose it.",
    ],
    "changes_to_terms": [
        "We may change our prices with 30 days' notice.",
        "We may modify or discontinue the service at any time.",
        "Changes to your account settings take effect immediately.",
    ],
    "termination_by_user": [
        "We may terminate your account if you break the rules.",
        "Sections 5 and 6 survive termination of this agreement.",
        "You may not terminate this agreement during the first year.",
        "The company can close your account at any time.",
        "You have the right to withdraw your consent to marketing emails.",
    ],
    "termination_by_provider": [
        "You can cancel your subscription at any time.",
        "These terms survive termination.",
        "We may remove posts that break the law.",
        "Termination does not affect rights that accrued before it.",
        "Your posts will be deleted after 30 days in the bin.",
        "Partners will protect the rights and accounts of all end users.",
    ],
}


def _hits(text: str) -> set[str]:
    return {c for c, s in rule_scores(text).items() if s >= RULE_THRESHOLD}


def test_the_seven_categories_are_in_the_taxonomy_after_the_contract_ones() -> None:
    assert CATEGORIES[-len(TERMS) :] == tuple(TERMS)
    assert set(POSITIVE) == set(NEGATIVE) == set(TERMS)


@pytest.mark.parametrize(
    ("category", "text"), [(c, t) for c, texts in POSITIVE.items() for t in texts]
)
def test_rules_find_the_category(category: str, text: str) -> None:
    assert category in _hits(text), rule_scores(text)


@pytest.mark.parametrize(
    ("category", "text"), [(c, t) for c, texts in NEGATIVE.items() for t in texts]
)
def test_rules_leave_the_look_alike_out(category: str, text: str) -> None:
    assert category not in _hits(text), rule_scores(text)


def test_either_party_termination_is_both_sides() -> None:
    hits = _hits("Either party may terminate this agreement for any reason on written notice.")
    assert {"termination_by_user", "termination_by_provider"} <= hits


TERMS_PAGE = """<!DOCTYPE html>
<html><head><title>Terms</title><style>p{margin:0}</style></head>
<body><h1>Terms of Use</h1>
<h2>Your stuff</h2>
<p>You keep ownership of the maps you create. You grant us a worldwide, royalty-free licence
to store and show them to the people you share them with.</p>
<h2>Our stuff</h2>
<p>We grant you a personal, non-exclusive licence to use the map editor.</p>
<h2>Rules</h2>
<p>You must not upload malware or use the editor to harass anyone.</p>
<h2>Changes</h2>
<p>We may change these terms; if you keep using the editor after a change, you accept it.</p>
<h2>Ending</h2>
<p>You can delete your account at any time. We may suspend your account if you break the
rules.</p>
</body></html>
"""


def test_a_terms_page_read_as_html_gets_every_category_quoted_verbatim(tmp_path: Path) -> None:
    page = tmp_path / "terms.html"
    page.write_text(TERMS_PAGE, encoding="utf-8")
    r = review(page)
    found = {f.category for f in r.findings}
    assert set(TERMS) <= found
    from tools._common import load_text

    text, _ = load_text("review", page)
    for f in r.findings:
        assert text[f.start : f.end] == f.quote
    by_cat = {f.category: f.quote for f in r.findings if f.category in TERMS}
    assert "You can delete your account" in by_cat["termination_by_user"]
    assert "We may suspend your account" in by_cat["termination_by_provider"]
    assert "Terms of Use" not in by_cat.get("content_license", "")
