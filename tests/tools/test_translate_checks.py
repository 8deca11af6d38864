"""The checks on one model reply: the edges mended in place, the doubts that cause a retry."""

from __future__ import annotations

import re

import pytest

from agent.llm.fake import FakeLLM
from tools._translate_checks import doubts, drop_strays, fix_edges
from tools.translate import translate

from .test_translate import query_of

# -- edges -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "reply", "target", "fixed"),
    [
        # the first letter follows the query's capital (after an opening mark or quote)
        ("Wait for the server.", "warten Sie auf den Server.", "de", "Warten Sie auf den Server."),
        ("Do you have it?", "¿la tiene?", "es", "¿La tiene?"),
        ('"⟦1⟧" was saved.', "« ⟦1⟧ » a été enregistré.", "fr", "« ⟦1⟧ » a été enregistré."),
        ("wait for it", "Warten", "de", "Warten"),  # German nouns keep their capital
        # the final mark follows the query's, with French spacing and Spanish opening marks
        ("Is it ready?", "Est-ce prêt.", "fr", "Est-ce prêt ?"),
        ("Is it ready?", "Ist es fertig", "de", "Ist es fertig?"),
        ("Is it ready?", "Está listo", "es", "¿Está listo?"),
        ("Options:", "Optionen", "de", "Optionen:"),
        ("Well done!", "Bien joué", "fr", "Bien joué !"),
        ("Save the file.", "Enregistrer le fichier", "fr", "Enregistrer le fichier."),
        ("Save file", "Enregistrer le fichier.", "fr", "Enregistrer le fichier"),
        # already right, or ending in something that is not a word: left alone
        ("Is it ready?", "Est-ce prêt ?", "fr", "Est-ce prêt ?"),
        ("Is it ready?", "¿Está listo?", "es", "¿Está listo?"),
        ("Loading…", "Chargement…", "fr", "Chargement…"),
    ],
)
def test_fix_edges(query: str, reply: str, target: str, fixed: str) -> None:
    assert fix_edges(query, reply, target) == fixed


# -- doubts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "reply", "found"),
    [
        ("Open the file ⟦1⟧.", "Ouvrez le fichier ⟦1⟧.", []),
        ("Open the file ⟦1⟧.", "Ouvrez le fichier ⟦1⟧ ⟦2⟧.", ["invented"]),
        ("Each finding quotes the sentence.", "Chaque phrase⟧.", ["invented"]),
        ("Open the settings page.", "Open the settings page.", ["untranslated"]),
        ("Open the settings page.", "Open the settings page, bitte.", ["untranslated"]),
        ("Open the settings page.", "Ouvrez la page des paramètres.", []),
        ("Do you have it in a larger size?", "¿Tienes?", ["short"]),
        ("Yes, thanks.", "Oui.", []),  # too few words to judge the length
        ("Hi.", "Bonjour " * 10, ["long", "repeated"]),
        (
            "My grandmother turns ninety next month.",
            "Mi abuela se acerca a la vejez y se acerca a la vejez.",
            ["repeated"],
        ),
        (
            "It is what it is, and it is what it is.",
            "C'est ce que c'est, et c'est ce que c'est.",
            [],
        ),
    ],
)
def test_doubts(query: str, reply: str, found: list[str]) -> None:
    assert doubts(query, reply) == found


# -- the retry ---------------------------------------------------------------------------------


def test_an_invented_sentinel_is_retried_with_calmer_examples() -> None:
    query = "The sidebar lists every note that links to this one."
    llm = FakeLLM(
        [
            "La barre latérale ⟦1⟧ liste les notes.",
            "La barre latérale liste toutes les notes qui renvoient vers celle-ci.",
        ]
    )
    result = translate(query, "fr", source="en", llm=llm)
    assert len(llm.calls) == 2
    assert result.text == "La barre latérale liste toutes les notes qui renvoient vers celle-ci."
    assert result.violations == ()
    first, second = (call.prompt for call in llm.calls)
    assert query_of(second) == query
    # the retry shows fewer bank examples, and none with protected items
    assert second.count("\nFrench: ") < first.count("\nFrench: ")
    with_sentinels = [e for e in re.findall(r"^English: (.*)$", second, flags=re.M) if "⟦" in e]
    assert with_sentinels == ["Click ⟦1⟧ to open ⟦2⟧."]  # the built-in one only


def test_an_untranslated_copy_is_retried_and_kept_only_if_nothing_better_comes() -> None:
    query = "Could you pick up some bread on your way home?"
    llm = FakeLLM([query, "Tu pourrais acheter du pain en rentrant ?"])
    assert translate(query, "fr", source="en", llm=llm).text == (
        "Tu pourrais acheter du pain en rentrant ?"
    )
    stuck = FakeLLM(default=query)
    assert translate(query, "fr", source="en", llm=stuck).text == query
    assert len(stuck.calls) == 2  # one retry, not more


def test_a_good_first_reply_is_not_retried() -> None:
    llm = FakeLLM(default="Tu pourrais acheter du pain en rentrant ?")
    translate("Could you pick up some bread on your way home?", "fr", source="en", llm=llm)
    assert len(llm.calls) == 1


def test_after_a_violation_a_doubt_breaks_no_tie() -> None:
    # first: the opening dropped and a sentinel invented; the retry: the placeholder lost.
    # One violation each: the first reply, made with the bank, is kept (and reported).
    llm = FakeLLM(["⟦1⟧, votre facture ⟦2⟧ est prête.", "Bonjour, votre facture est prête."])
    result = translate("Hello %s, your invoice is ready.", "fr", source="en", llm=llm)
    assert len(llm.calls) == 2
    assert result.text == "%s, votre facture  est prête."
    assert [v.kind for v in result.violations] == ["omission"]


def test_after_a_doubt_alone_a_retry_with_a_violation_is_not_taken() -> None:
    llm = FakeLLM(["Supprimer ⟦1⟧ ⟦2⟧ objets.", "Supprimer les objets."])
    result = translate("Delete %s objects.", "fr", source="en", llm=llm)
    assert len(llm.calls) == 2
    assert result.text == "Supprimer %s  objets." and result.violations == ()


def test_half_sentinels_never_reach_the_translation() -> None:
    assert drop_strays("⟦1⟧ und ⟦2⟧F1⟧ ⟦3") == "⟦1⟧ und ⟦2⟧F1 3"
    llm = FakeLLM(default="Drücken Sie ⟦1⟧F1⟧, um diese Hilfe zu öffnen.")
    result = translate("Press <kbd>F1</kbd> to open this help.", "de", source="en", llm=llm)
    assert result.text == "Drücken Sie <kbd>F1, um diese Hilfe zu öffnen."
    assert [v.expected for v in result.violations] == ["</kbd>"]  # still reported
