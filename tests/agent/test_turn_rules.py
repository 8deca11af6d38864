"""The rules of the turn loop, each with the fake model and the hash embedder: routing without
generation, facts, answers about the user, forgetting in words and what a forget erases."""

from __future__ import annotations

import datetime as dt
import doctest
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import agent.pipeline.answers
import agent.pipeline.facts
import agent.pipeline.forgetting
import agent.pipeline.routing
import agent.pipeline.toolargs
import memory._slots
from agent.api import Agent
from agent.llm.fake import FakeLLM
from agent.llm.prompts import ChatMLChatFormat, TranscriptChatFormat
from agent.pipeline.answers import UNKNOWN_REPLY
from agent.pipeline.routing import Router, explicit_route


@pytest.mark.parametrize(
    "module",
    [
        agent.pipeline.answers,
        agent.pipeline.facts,
        agent.pipeline.forgetting,
        agent.pipeline.routing,
        memory._slots,
    ],
)
def test_module_doctests_pass(module: Any) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def _bot(home: Path, reply: str = "Sure.", instruct: bool = False, **kw: Any) -> Agent:
    fmt = ChatMLChatFormat() if instruct else TranscriptChatFormat()
    llm = FakeLLM(default=reply, chat_format=fmt)
    return Agent.open(home, llm=llm, embedder="hash", **kw)


@pytest.mark.parametrize(
    "message, route",
    [
        ("My name is Tom and my dog is called Rex.", "remember"),
        ("We just got back from a holiday in Crete, the beach was lovely.", "remember"),
        ("I got a job offer in another city and need to decide by Friday.", "remember"),
        ("My lawyer reviewed my contract yesterday.", "remember"),
        ("Explain how photosynthesis works", "chat"),
        ("write a long poem about the sea", "chat"),
        ("What is the capital of Italy?", "chat"),
        ("How old is my daughter?", "ask_memory"),
        ("What does the user do for a living?", "ask_memory"),
        ("Do you remember where I parked?", "ask_memory"),
        ("Tell me my passport number.", "ask_memory"),
        ("how many people does the recipe serve?", "ask_documents"),
        ("Is there anything about a pottery class?", "ask_memory"),
        ("What does the warranty say about water damage?", "ask_documents"),
        ("What does Priya teach?", "ask_memory"),
        ("What does the lease say about pets?", "ask_documents"),
        ("Translate 'good morning' into French", "translate"),
        ("Please summarize this: the meeting moved to Tuesday and the budget grew.", "summarize"),
        ("Write a Python function that reverses a string.", "code"),
        ("Review this clause: the tenant waives all rights.", "review"),
        ("Actually, forget my address, please.", "forget"),
        ("delete what I told you about Priya", "forget"),
    ],
)
def test_routing_by_rules(message: str, route: str) -> None:
    decision = explicit_route(message) or Router(None).route(message)
    assert decision.route == route, decision.reason


def test_a_tool_label_from_neighbours_needs_an_object() -> None:
    import numpy as np

    def embed(texts: Any) -> np.ndarray:  # every text looks like "translate"
        return np.ones((len(texts), 4), np.float32) / 2

    router = Router(embed)
    assert router.route("I adore languages and learning them").route != "translate"


def test_compound_statement_becomes_two_facts_about_their_subjects(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        turn = bot.chat("My name is Tom and my dog is called Rex.", thread="a")
        assert [f["text"] for f in turn.facts] == ["My name is Tom.", "My dog is called Rex."]
        assert turn.text == "Noted: Your name is Tom; your dog is called Rex."
        other = bot.chat("What is my dog called?", thread="b")  # another thread
        assert other.text.startswith("Your dog is called Rex (you told me on ")
        assert "name is Tom" not in other.text  # the slot's own fact, not its neighbours


def test_a_move_supersedes_and_history_answers_before(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("I just moved to Lyon.")
        turn = bot.chat("Oh and I'm all settled in Lisbon now.")
        assert turn.facts[0]["superseded"] and "replaces" in turn.text
        now = bot.chat("Where do I live?").text
        assert "Lisbon" in now and "Lyon" not in now
        before = bot.chat("Where did I live before?").text
        assert before.startswith("Before: You just moved to Lyon")
        when = bot.chat("When did I move to Lyon?").text
        assert when.startswith("You told me on ") and "Lyon" in when


def test_unanswerable_questions_get_i_dont_know_without_the_model(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="Your dog is called Max.") as bot:
        bot.chat("My cat is called Miso.")
        for q in ("What is my dog called?", "How old is my brother?", "Where does Priya work?"):
            assert bot.chat(q).text == UNKNOWN_REPLY, q
        assert bot.llm.calls == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "model_says, expected_start",
    [
        ("Your daughter is seven.", "Your daughter is seven."),  # supported: kept
        ("Your daughter is 20 years old.", "Your daughter Zoe is seven (you told me on"),
        # the model spoke as the user:
        ("My daughter is seven.", "Your daughter Zoe is seven (you told me on"),
        ("I don't know.", "Your daughter Zoe is seven (you told me on"),
    ],
)
def test_an_instruct_models_answer_is_kept_only_when_supported(
    tmp_path: Path, model_says: str, expected_start: str
) -> None:
    with _bot(tmp_path, reply=model_says, instruct=True) as bot:
        bot.chat("My daughter is called Zoe and she is seven.")
        turn = bot.chat("How old is my daughter?")
        assert turn.text.startswith(expected_start)
        call = bot.llm.calls[-1]  # type: ignore[attr-defined]
        assert call.settings.temperature == 0  # grounded answers decode greedily


def test_forget_in_words_deletes_and_scrubs_every_thread(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with _bot(home, reply="Noted, X1234567 it is.") as bot:
        bot.chat("My passport number is X1234567.", thread="a")
        bot.chat("My dog is called Rex.", thread="a")
        bot.chat("/ask Tell me something about X1234567", thread="b")  # the model repeats it
        turn = bot.chat("Please forget my passport number", thread="c")
        assert turn.text.startswith("Forgotten: your passport number (1 memory")
        assert bot.chat("What is my passport number?", thread="d").text == UNKNOWN_REPLY
        for thread in ("a", "b", "c"):
            assert "X1234567" not in str(bot.history(thread)), thread
        assert bot.recall("dog")[0].record.text == "My dog is called Rex."  # the rest stays
        titles = {t.thread: t.title for t in bot.threads()}
        assert "X1234567" not in str(titles) and titles["a"] == "[forgotten]"
    for name in ("threads.sqlite", "threads.sqlite-wal", "memory.db", "memory.db-wal"):
        path = home / name
        if path.exists():
            assert b"X1234567" not in path.read_bytes(), name
    with sqlite3.connect(home / "threads.sqlite") as conn:  # still a working checkpoint file
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize(
    "said, ask, forgotten, kept",
    [
        (
            ["My colleague Priya is a nurse.", "Priya lives in Leeds.", "I like tea."],
            "delete what I told you about Priya",
            2,
            "I like tea.",
        ),
        (
            ["I take iron tablets every morning.", "I bank with Norda Bank."],
            "Please forget what I said about my medication.",
            1,
            "I bank with Norda Bank.",
        ),
        (
            ["I used to work at Hollander Logistics.", "I work as a freelance illustrator."],
            "Forget everything about my old job.",
            1,
            "I work as a freelance illustrator.",
        ),
    ],
)
def test_forget_phrases_find_what_they_mean(
    tmp_path: Path, said: list[str], ask: str, forgotten: int, kept: str
) -> None:
    with _bot(tmp_path) as bot:
        for s in said:
            bot.remember(s)
        turn = bot.chat(ask)
        assert turn.route == "forget" and f"({forgotten} memor" in turn.text
        assert [r.text for r in bot.memory.list("me")] == [kept]


def test_nothing_to_forget_says_so(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.remember("I like tea.")
        assert bot.chat("forget my passport number").text.startswith(
            'I found nothing about "my passport number" to forget.'
        )
        assert len(bot.memory.list("me")) == 1


def test_small_talk_stores_nothing_and_the_model_replies(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="Hello! How can I help?") as bot:
        for message in ("Hi! How are you?", "Thanks, that's nice."):
            turn = bot.chat(message)
            assert turn.route == "chat" and turn.facts == () and turn.text
        prompt = bot.llm.calls[-1].prompt  # type: ignore[attr-defined]
        assert "Lorebook" not in prompt  # nothing to copy a self-introduction from


def test_a_short_answer_to_the_assistants_question_becomes_a_fact(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="Nice to meet you! What's your name?") as bot:
        bot.chat("Hi there, can we chat for a bit?")
        turn = bot.chat("It's Jonas Berg.")
        assert [f["text"] for f in turn.facts] == ["My name is Jonas Berg."]
        assert "Jonas Berg" in bot.chat("What's my surname?").text


@pytest.mark.parametrize(
    "message, facts",
    [
        # casual speech drops the "I"
        (
            "started volunteering at the care home today, absolutely shattered",
            ["I started volunteering at the care home today, absolutely shattered."],
        ),
        # a sentence that points back keeps the sentence it points at
        (
            "The pharmacy on Coldharbour Lane holds my prescription. I pick it up on Fridays.",
            ["The pharmacy on Coldharbour Lane holds my prescription. I pick it up on Fridays."],
        ),
        # a lead clause about no one is context, not dropped
        (
            "so the band finally has a name, we're called The Paper Lanterns",
            ["The band finally has a name, we're called The Paper Lanterns."],
        ),
        # "She" in the next sentence is the one just named
        (
            "The cat next door is Kiki. She belongs to our neighbour Doreen.",
            ["The cat next door is Kiki.", "Kiki belongs to our neighbour Doreen."],
        ),
        # an aside with no name or number is dropped, not split on
        (
            "my twins are called Ella and Ellie (yes, we know).",
            ["My twins are called Ella and Ellie."],
        ),
        ("good news: they've moved me onto earlies", ["They've moved me onto earlies."]),
        ("evening! Tamsin here", ["My name is Tamsin."]),
        ("right, I'm off to bed. night night!", []),
        (
            "Rudi's the one who never does the washing up",
            ["Rudi's the one who never does the washing up."],
        ),
        (
            "Kasia lent me her tent for the festival, and Kasper still owes me 60 euros from "
            "the ski trip - gotta chase him up on that",
            [
                "Kasia lent me her tent for the festival.",
                "Kasper still owes me 60 euros from the ski trip - gotta chase him up on that.",
            ],
        ),
        (
            "my brother Theo is a plumber in Galway. his wife Thea is a midwife",
            [
                "My brother Theo is a plumber in Galway.",
                "My brother Theo's wife Thea is a midwife.",
            ],
        ),
        (
            "Two people who'll come up a lot: Marta is my landlady.",
            ["Marta is my landlady."],
        ),
        (
            "Martha is my physio, I see her on Wednesdays for my dodgy knee.",
            ["Martha is my physio. I see her on Wednesdays for my dodgy knee."],
        ),
    ],
)
def test_facts_keep_their_context(message: str, facts: list[str]) -> None:
    assert agent.pipeline.facts.extract_facts(message) == facts


def test_a_correction_replaces_the_wrong_value_without_history(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("the PIN for the bike shed at work is 2958", thread="a")
        turn = bot.chat("sorry, I meant 2985. I always swap the last two digits", thread="a")
        assert turn.route == "remember"
        assert turn.facts[0]["text"] == "The PIN for the bike shed at work is 2985."
        answer = bot.chat("What's the PIN for the bike shed?", thread="b").text
        assert "2985" in answer and "2958" not in answer
        texts = [r.text for r in bot.memory.list("default", include_history=True)]  # type: ignore[union-attr]
        assert not any("2958" in t for t in texts)  # a typo is not history


@pytest.mark.parametrize(
    "told, question, expected",
    [
        # an irregular past form meets its present ("bought" / "buy")
        (
            "I drive an old green Volvo that I bought off my uncle Henrik.",
            "Who did I buy my car from?",
            "Henrik",
        ),
        (
            "Rudi's the one who never does the washing up.",
            "which of my flatmates never does the washing up?",
            "Rudi",
        ),
    ],
)
def test_related_facts_answer_other_wordings(
    tmp_path: Path, told: str, question: str, expected: str
) -> None:
    with _bot(tmp_path) as bot:
        bot.chat(told, thread="a")
        assert expected in bot.chat(question, thread="b").text


def test_a_time_phrase_is_not_a_place() -> None:
    gig = [{"text": "Our band's got a gig on Saturday, first one in ages.", "similarity": 0.5}]
    assert agent.pipeline.answers.evidence("Where is the gig?", gig) == []
    pub = [{"text": "Our band's got a gig at the Red Lion on Saturday.", "similarity": 0.5}]
    assert agent.pipeline.answers.evidence("Where is the gig?", pub) == pub


def test_a_receipt_line_with_dot_leaders_is_one_answer(tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.txt"
    receipt.write_text(
        "Spoke & Sprocket Cycles\nChain ........ 24.50\nTOTAL PAID (card) ........ 53.50\n\n"
        "Parts carry a six-month warranty.\n"
    )
    with _bot(tmp_path / "home") as bot:
        bot.ingest([receipt])
        turn = bot.chat("how much did I pay at the bike shop in the end?")
        assert "53.50" in turn.text and "Parts" not in turn.text
        assert turn.citations and turn.citations[0].quote.endswith("53.50")


@pytest.mark.integration
def test_a_sentence_that_only_shares_a_word_does_not_answer(tmp_path: Path) -> None:
    """With the real embedder: the sentence that means the question is quoted; one that shares
    a word but is about something else is not ("the documents do not say")."""
    lease = tmp_path / "lease.txt"
    lease.write_text(
        "Lease for Flat 3, Rue Verte 12.\n"
        "The monthly base rent is 950 euros, due by the third working day of each month.\n"
        "The tenant pays an advance of 180 euros per month towards operating costs.\n"
        "Dogs and cats may not be kept in the flat.\n"
    )
    llm = FakeLLM(default="It is 2,000 euros.", chat_format=TranscriptChatFormat())
    with Agent.open(tmp_path / "home", llm=llm, embedder="minilm") as bot:
        bot.ingest([lease])
        rent = bot.chat("How much is the rent according to my lease?")
        assert "950" in rent.text and rent.citations
        fine = bot.chat("What's the penalty in my lease if I pay the rent late?")
        assert "2,000" not in fine.text and "950" not in fine.text
        trip = tmp_path / "school.txt"
        trip.write_text(
            "Dear parents,\nThe class trip to the science museum is on 9 November.\n"
            "Pupils need a packed lunch and 8 euros for the entry fee.\n"
        )
        bot.ingest([trip])
        # the sentence before says which trip the 8 euros are for
        fee = bot.chat("How much money does Mila need for the museum trip?")
        assert "8 euros" in fee.text and fee.citations


def test_he_after_a_named_person_is_that_person_and_forget_stays_precise(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        told = bot.chat("I owe my cousin Lorcan 250 quid for the tickets. he lives over in Galway")
        assert [f["text"] for f in told.facts][-1] == "Lorcan lives over in Galway."
        gone = bot.chat("actually scrap what I said about owing Lorcan money", thread="b")
        assert gone.route == "forget" and "1 memory" in gone.text
        assert "Galway" in bot.chat("where does my cousin Lorcan live?", thread="c").text
        assert "250" not in bot.chat("how much money do I owe Lorcan?", thread="c").text


@pytest.mark.parametrize(
    "fact, question, answers",
    [
        ("My brother Jon is a firefighter in Cork.", "where does Jon live?", True),
        ("The cabin is up near Lake Siljan.", "where is our summer cabin?", True),
        ("My sister Beatriz is a nurse.", "which hospital does Beatriz work at?", False),
        ("I'm flying to Lisbon on Thursday.", "which hotel am I staying at in Lisbon?", False),
    ],
)
def test_evidence_for_a_thing_or_a_named_kind(fact: str, question: str, answers: bool) -> None:
    found = agent.pipeline.answers.evidence(question, [{"text": fact, "similarity": 0.5}])
    assert bool(found) is answers


def test_a_short_follow_up_carries_on_the_last_tool_in_its_thread(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="Bonjour.") as bot:
        assert bot.chat("Translate 'good morning' into French", thread="a").route == "translate"
        again = bot.chat("and 'thank you very much'?", thread="a")
        assert again.route == "translate" and "follow-up" in again.route_reason
        assert bot.chat("and in Spanish?", thread="a").route == "translate"
        # a statement or a new question in the same thread is not a phrase to translate
        assert bot.chat("and my sister is called Ana", thread="a").route == "remember"
        assert bot.chat("and where do I live?", thread="a").route == "ask_memory"
        # another thread has no tool to carry on
        assert bot.chat("and 'thank you very much'?", thread="b").route != "translate"


def test_a_code_is_one_slot_however_it_is_named_and_a_new_value_replaces_it(
    tmp_path: Path,
) -> None:
    with _bot(tmp_path) as bot:
        assert bot.chat("The door code for the office is 4417.").route == "remember"
        bot.chat("facilities changed the office door code over the weekend, it's 8025 now")
        now = bot.chat("what's the door code for the office?", thread="b").text
        assert "8025" in now and "4417" not in now
        assert "4417" in bot.chat("what was the old office code?", thread="c").text


def test_i_dont_know_shows_the_nearest_memory_but_never_another_subjects(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="Your dog is called Max.") as bot:
        bot.chat("our neighbour on the left, mrs Okonkwo, has a spare key to the flat")
        bot.chat("My cat is called Miso.")
        locked_out = bot.chat("argh I'm locked out, who has a spare key??", thread="b").text
        assert "Okonkwo" in locked_out
        # nothing about the dog: the cat's name is not offered as the nearest thing
        assert bot.chat("What is my dog's name?", thread="c").text == UNKNOWN_REPLY


def test_a_pronoun_question_after_a_personal_turn_is_not_left_to_the_model(
    tmp_path: Path,
) -> None:
    with _bot(tmp_path, reply="He lives in New York.") as bot:
        bot.chat("my brother Tomasz lives in Gdansk")
        assert bot.chat("what does my brother do?", thread="b").route == "ask_memory"
        turn = bot.chat("and what city is he in?", thread="b")
        assert turn.route == "ask_memory" and "New York" not in turn.text
        assert bot.chat("where do we rehearse?", thread="c").route == "ask_memory"
        assert bot.chat("Hi there, can we chat for a bit?", thread="d").route == "chat"


def test_a_value_in_the_wrong_unit_does_not_answer() -> None:
    asked = "How many hours does the membrane need to dry before tiling?"
    assert not agent.pipeline.answers._of_expected_type(asked, "3-6 weeks for a renovation.")
    assert agent.pipeline.answers._of_expected_type(asked, "Let it dry for 24 hours.")
    ride = "How long is the bus ride to the airport?"
    assert not agent.pipeline.answers._of_expected_type(
        ride, "On weekdays the last bus leaves at 22:00."
    )
    assert agent.pipeline.answers._of_expected_type(ride, "The journey takes 38 minutes.")
    price = "How much does completion protection cost?"
    assert not agent.pipeline.answers._of_expected_type(price, "It is required by law (2014:227).")


def test_forget_after_several_lead_ins_and_in_other_words(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("My old school nickname was Sprout.")
        bot.chat("I make 39,000 a year at the depot.")
        bot.chat("I take 20mg of omeprazole at night and I also take iron tablets.")
        said = bot.chat("Oh no. Hmm, that's silly. Don't keep my nickname, just bin it.")
        assert said.route == "forget" and "Sprout" not in bot.chat("What was my nickname?").text
        assert bot.chat("Forget what I told you about my salary.").route == "forget"
        assert "39,000" not in bot.chat("How much do I make?", thread="b").text
        assert bot.chat("Scratch the omeprazole from your records.").route == "forget"
        left = [m.text for m in bot.memory.list(user="me")]
        assert any("iron" in t for t in left) and not any("omeprazole" in t for t in left)
    assert explicit_route("I'd rather you didn't store anything about my ex").route == "forget"
    assert explicit_route("I told him, forget it, it's fine") is None


def test_forget_that_removes_what_the_last_message_told(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("My locker number at the pool is 318.")
        bot.chat("I'm thinking of buying my brother a kayak for his fortieth.")
        said = bot.chat("Wait, on second thoughts, delete that from your memory. He snoops.")
        assert said.route == "forget" and "1 memory" in said.text
        left = [m.text for m in bot.memory.list(user="me")]
        assert not any("kayak" in t for t in left) and any("318" in t for t in left)
        assert "kayak" not in bot.chat("What am I buying my brother?", thread="b").text
        # a question answered from memory, then "erase that": the fact the answer gave
        bot.chat("What's my locker number?")
        assert bot.chat("Actually erase that — it's private.").route == "forget"
        assert not bot.memory.list(user="me")
    assert explicit_route("never mind, stop remembering that locker code, ok?").payload.startswith(
        "that locker code"
    )
    assert explicit_route("Oh well, forget it.") is None  # a shrug, not a request


def test_a_kind_meets_its_members_and_a_destination_is_not_an_airline(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("Heads up, I'm allergic to cashews, keep it in mind for recipes.")
        bot.chat("We have triplets, Ines, Hugo and Lola, born in May.")
        bot.chat("I keep an orchid on the windowsill that I named Duchess.")
        bot.chat("Our project team sits on the 4th floor of the Arden building.")
        bot.chat("Quick update: they relocated all of us to the 7th floor on Friday.")
        bot.chat("I'm taking the train to Porto next week for a wedding.")
        assert "cashew" in bot.chat("Is there a nut I must avoid?", thread="b").text
        assert "Lola" in bot.chat("What are my kids called?", thread="b").text
        assert "Duchess" in bot.chat("What's the name of my plant?", thread="b").text
        floor = bot.chat("Which floor is our team on?", thread="b").text
        assert "7th" in floor and "4th" not in floor
        line = bot.chat("Which train company am I travelling with?", thread="b").text
        assert line.startswith("I don't know")
        assert not bot.chat("I'm bored, say something fun.", thread="c").facts
        birthdays = "My dad's birthday is on 3 May and my stepmum's is on the 20th of May."
        bot.chat(birthdays)
        assert "20th" in bot.chat("When is my stepmum's birthday?", thread="b").text
    with _bot(tmp_path / "other") as bot:
        bot.chat("The choir is rehearsing at Mabel's house this week.")
        bot.chat("Change of plan, we're rehearsing at St Olave's instead because Mabel has flu.")
        assert "Olave" in bot.chat("Where is choir this week?", thread="d").text
        bot.chat("My brother Teodor lives in Vigo.")
        bot.chat("My brother Teodor has a new job at the harbour now.")
        assert "Vigo" in bot.chat("Where does my brother Teodor live?", thread="d").text


def test_time_told_corrections_and_requests_in_passing(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("My godson Eoghan starts an apprenticeship in March.")
        for asked in ("When did I mention Eoghan?", "Since when do you know about Eoghan?",
                      "How long ago did I tell you about Eoghan's apprenticeship?"):  # fmt: skip
            assert bot.chat(asked, thread="b").text.startswith("You told me on "), asked
        bot.chat("My physio session is on Monday at 9am.")
        bot.chat("Scratch that, the clinic phoned and moved it to Wednesday at noon.")
        assert "Wednesday" in bot.chat("When is my physio session?", thread="b").text
        bot.chat("My cousin Søren is 27.")
        bot.chat("Sorry, typo — Søren is 29, not 27.")
        age = bot.chat("How old is Søren?", thread="b").text
        assert "29" in age and "27" not in age
        bot.chat("Big news — I've just moved to Ghent for the new job!")
        assert "Ghent" in bot.chat("where am I living these days?", thread="b").text
        bot.chat("I owe my flatmate Ilse £40 for the gas bill.")
        said = bot.chat(
            "Ilse and I are even now, so you can stop remembering that I owe her money."
        )
        assert said.route == "forget" and not any("£40" in m.text for m in bot.memory.list("me"))
        assert "29" in bot.chat("How old is Søren?", thread="c").text  # nothing else went
        bot.chat("Could you hold on to this for me: my bike lock code is 5530.")
        assert "5530" in bot.chat("what's my bike lock code?", thread="c").text
        bot.chat("Wiebke's favourite flower is the peony.")
        assert "peony" in bot.chat("What flower does Wiebke like?", thread="c").text
        general = bot.chat("What's the tallest mountain? I always want to say K2.", thread="d")
        assert general.route == "chat" and not general.facts
        assert not bot.chat("Morning! Quick trivia question incoming.", thread="d").facts
        assert not bot.chat("In a vacuum, how fast does light travel?", thread="d").facts
        assert bot.chat("sorry, who did I owe? kidding, tell me anyway").route == "ask_memory"
    with _bot(tmp_path / "gift") as bot:
        bot.chat("My birthday is on the 9th of May.")
        bot.chat("I'm getting my husband a cookery class for his birthday.")
        assert "9th of May" in bot.chat("When is my birthday?", thread="b").text  # not replaced
    decision = Router(None).route(
        "Found this note on the fridge, can you summarise it in a couple of lines?\n\n" + "x " * 60
    )
    assert decision.route == "summarize"
    code = agent.pipeline.routing.follow_up(
        "nice, could you make it skip blank lines too?",
        "code",
        "Write a Python function that counts lines.",
    )
    assert code is not None and code.payload.endswith("It should also skip blank lines too.")


def test_pronouns_and_asides_across_and_within_messages(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("My son goes to Hillcrest Academy.")
        bot.chat("His football coach is Mr Osei.")
        assert "Osei" in bot.chat("Who is my son's football coach?", thread="b").text
        assert "Hillcrest" in bot.chat("Which school does my son go to?", thread="b").text
        bot.chat("My neighbour Mia — with one i — runs the corner shop on Elm Street.")
        assert "corner shop" in bot.chat("What does Mia do?", thread="b").text
        bot.chat("My aunt Odile opened a tea room! It's in Arles and it's called La Théière.")
        assert "Théière" in bot.chat("remind me, what did my aunt call her tea room?").text
        assert "Arles" in bot.chat("and which town is it in?").text


def test_rises_new_jobs_options_and_the_person_asked(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("My gym membership is 35 a month.")
        bot.chat("ugh, the gym's just put the price up to 42 a month.")
        fee = bot.chat("how much is my gym membership now?", thread="b").text
        assert "42" in fee and "35" not in fee
        bot.chat("I work as a barista at a café in Ghent.")
        bot.chat("News!! I've quit the café — starting Monday I'm a tram driver in Antwerp.")
        assert "tram driver" in bot.chat("what's my job these days?", thread="b").text
        bot.chat("I've got a check-up for my ear every Friday now.")
        said = bot.chat("which ear was it, left or right?").text
        assert said.startswith("I don't know")
        bot.chat("We have two Jos at the lab: Jo Marsh runs the cryo unit and Jo Marr runs stores.")
        lab = bot.chat("which unit does Jo Marr run?", thread="c").text
        assert "stores" in lab and "cryo" not in lab
        bot.chat(
            "Willow is my cat, a grey tabby. Wilma is my aunt's goat — she keeps her on a farm."
        )
        goat = bot.chat("what kind of animal is Wilma?", thread="c").text
        assert "goat" in goat and "tabby" not in goat
        said = bot.chat("Actually, wipe whatever you've got about Willow.")
        assert said.route == "forget"
        assert "tabby" not in bot.chat("Is Willow a cat?", thread="d").text
        assert bot.chat("scratch that — forget my gym membership, please").route == "forget"
    assert Router(None).route(
        "quick q for a bet with my dad — how far away is the moon?"
    ).route == ("chat")


def test_subjectless_costs_naming_and_do_you_remember_tails(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("my laptop died last week")
        bot.chat("so I gave in and bought a new one, a silver ThinkPad. Cost me £980, ouch.")
        assert "980" in bot.chat("how much did I pay for the new laptop?", thread="b").text
        bot.chat("we adopted a rabbit on Sunday! the kids insisted on calling him Clementine")
        said = bot.chat("what did the kids end up naming the rabbit?", thread="b").text
        assert "Clementine" in said
    assert memory._slots.question_slot("what does Oona do for a living, do you remember?") == (
        "oona",
        "work",
    )


def test_who_is_a_named_person_is_answered_from_what_was_told(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="She is a famous singer.") as bot:
        bot.chat("My neighbour Ingrid teaches the cello at the conservatoire.")
        for asked in ("who is Ingrid?", "Who's Ingrid again?", "Tell me about Ingrid"):
            assert "cello" in bot.chat(asked, thread="b").text, asked


def test_the_part_of_a_compound_fact_about_whom_is_asked(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("Our cats are Pixel, a fluffy ragdoll, and Pascal, a sleek siamese.")
        reply = bot.chat("What breed is Pascal?", thread="b").text
        assert "siamese" in reply and "ragdoll" not in reply


def test_a_later_change_in_other_words_is_the_current_value(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("My haircut is booked for Tuesday at 11am.")
        bot.chat("The salon called and moved my haircut to Wednesday instead.")
        reply = bot.chat("When's my haircut?", thread="b").text
        assert "Wednesday" in reply and "Tuesday" not in reply
        bot.chat("Our tortoise Flint is forty years old.")
        bot.chat("I got it wrong, Flint is actually sixty, not forty.")
        assert "sixty" in bot.chat("How old is Flint?", thread="c").text


def test_names_with_accents_are_names() -> None:
    assert memory._slots.question_slot("Where does Zoë live?") == ("zoë", "residence")
    assert memory._slots.question_slot("Which city do I live in?") == ("i", "residence")
    assert agent.pipeline.routing.asks_about_user("Where does Sebastián live?")


def test_what_others_call_the_user_is_its_own_slot(tmp_path: Path) -> None:
    assert memory._slots.slot("At work they all call me Kit") == ("i", "nickname")
    assert memory._slots.question_slot("What do my friends call me?") == ("i", "nickname")
    with _bot(tmp_path) as bot:
        bot.chat("I'm Katherine, but honestly my friends call me Kit.")
        assert "Kit" in bot.chat("What do people call me?", thread="b").text
        assert "Katherine" in bot.chat("What's my name?", thread="b").text


def test_a_numbered_heading_answers_a_question_with_its_number() -> None:
    chunk = {
        "n": 1,
        "quote": "Week 2: the tiling. Week 5: the plumbing, then the kitchen.",
        "start": 0,
        "source": "plan.txt",
        "path": "plan.txt",
        "page": None,
    }
    found = agent.pipeline.answers.best_sentence("What happens in week 5?", [chunk])
    assert found is not None and found["sentence"].startswith("Week 5")


def test_a_question_led_by_where_to_look_keeps_its_kind() -> None:
    note = (
        "Aunt Vera's plum jam (makes 4 jars)\n\nYou need: 2 kg plums, 800 g sugar, 1 lemon.\n\n"
        "Method: Stone the plums, stir in the sugar, then boil for 25 minutes."
    )
    chunk = {
        "n": 1,
        "quote": note,
        "start": 0,
        "source": "jam.txt",
        "path": "jam.txt",
        "page": None,
    }
    found = agent.pipeline.answers.best_sentence(
        "In aunt Vera's jam recipe, how long do the plums boil?", [chunk]
    )
    assert found is not None and "25 minutes" in found["sentence"]


def test_at_work_is_where_not_what_the_job_is() -> None:
    assert memory._slots.slot("My friend Olu sits opposite me at work.") is None
    assert memory._slots.slot("I cycle to work along the canal.") is None
    assert memory._slots.slot("My aunt Rosa is a midwife in Seville.") == ("rosa", "work")
    assert memory._slots.slot("I used to work at a brewery.") == ("i", "past work")


def test_the_date_what_was_told_today_and_greetings_need_no_model(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="The largest planet is Jupiter.") as bot:
        assert bot.chat("Hello!").text == "Hello! What can I do for you?"
        bot.chat("I ordered a new bike saddle.")
        today = bot.chat("sorry, what's the date today?", thread="b").text
        assert today.startswith("Today is ") and str(dt.date.today().year) in today
        told = bot.chat("What have I told you today?", thread="b").text
        assert "bike saddle" in told
        assert "anything yesterday" in bot.chat("What did I tell you yesterday?", thread="b").text
    with _bot(tmp_path / "i", reply="Hi! How can I help?", instruct=True) as bot:
        assert bot.chat("Hello!").text == "Hi! How can I help?"  # an instruct model replies


def test_a_passage_in_other_everyday_words_is_found() -> None:
    def chunk(text: str) -> dict[str, Any]:
        return {"n": 1, "quote": text, "start": 0, "source": "d", "path": "d", "page": None}

    policy = chunk("Cover starts on signing. The annual premium is 240 euros. Claims go online.")
    found = agent.pipeline.answers.best_sentence("What does the policy cost a year?", [policy])
    assert found is not None and "240" in found["sentence"]
    receipt = chunk("Thanks for visiting Leafy Garden Centre! Date 03.02.2026 Till 4")
    found = agent.pipeline.answers.best_sentence("What day did I shop at Leafy?", [receipt])
    assert found is not None and "03.02.2026" in found["sentence"]


def test_a_time_question_still_wants_a_clock_time() -> None:
    chunk = {
        "n": 1,
        "quote": "The pool opens in May. Lanes open at 06:30 on weekdays.",
        "start": 0,
        "source": "pool.txt",
        "path": "pool.txt",
        "page": None,
    }
    found = agent.pipeline.answers.best_sentence("What time do the lanes open?", [chunk])
    assert found is not None and "06:30" in found["sentence"]


def test_a_pronoun_after_a_document_quote_stays_with_the_documents(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "stew.txt").write_text(
        "Uncle Bram's lamb stew (serves 4)\n\nBrown the lamb, add onions and barley, then "
        "simmer for two hours. Season with thyme and a bay leaf.\n"
    )
    with _bot(tmp_path / "home", reply="It takes 10 minutes.") as bot:
        bot.ingest([docs])
        first = bot.chat("what do I season uncle Bram's lamb stew with?")
        assert "thyme" in first.text
        turn = bot.chat("how long does it have to simmer?")
        assert turn.route == "ask_documents" and "10 minutes" not in turn.text
        assert "two hours" in turn.text
        assert bot.chat("What is the capital of Italy?", thread="b").route == "chat"


@pytest.mark.parametrize(
    "message, route",
    [
        ("I need an SQL query that lists customers without orders.", "code"),
        ("I want a function to parse ISO dates in Python.", "code"),
        ("I need a new code for the garage door.", "remember"),
        ("I want a class for beginners in pottery.", "remember"),
        ("Could you look at this clause from my lease and say if it's fair? 'No pets.'", "review"),
    ],
)
def test_requests_in_the_first_person_reach_their_tool(message: str, route: str) -> None:
    decision = Router(None).route(message)
    assert decision.route == route, decision


def test_go_on_after_a_question_is_not_an_answer(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="What is your name?") as bot:
        bot.chat("tell me a story")
        for asked in ("Please continue.", "go on", "Tell me more"):
            assert not [f for f in bot.chat(asked).facts if f["action"] != "rejected"], asked


@pytest.mark.parametrize(
    "message, facts",
    [
        # a noun with its own verb after "and" borrows no subject
        (
            "I teach maths in Bergen, and shellfish give me hives",
            ["I teach maths in Bergen, and shellfish give me hives."],
        ),
        # a one- or two-word list item stays in its list
        (
            "I swim twice a week, mostly crawl and backstroke",
            ["I swim twice a week, mostly crawl and backstroke."],
        ),
        # "it" is not the person named before it
        (
            "my son renamed the hamster Biscuit and it stuck",
            ["My son renamed the hamster Biscuit and it stuck."],
        ),
        # "Name (my relation)": the relation stays with the name
        ("Ilse (my aunt) moved to Graz in May", ["My aunt Ilse moved to Graz in May."]),
        # the user's own things said without "my"
        (
            "mortgage is due on the 5th, 1200 a month",
            ["My mortgage is due on the 5th, 1200 a month."],
        ),
        ("name's Rafa, I fix bikes in Seville", ["My name is Rafa.", "I fix bikes in Seville."]),
        ("short intro so you know me: I'm Kemal, I farm olives", ["I'm Kemal.", "I farm olives."]),
        # a demonstrative points at what the sentence before named
        (
            "Pepper ate my sandwich again. That spaniel is a menace.",
            ["Pepper ate my sandwich again. That spaniel is a menace."],
        ),
        # the user's memory of the moment is not a fact
        ("I forgot, what's my gate code?", []),
        ("I've lost track of the days, what's today?", []),
        ("I forgot my umbrella at the office", ["I forgot my umbrella at the office."]),
    ],
)
def test_facts_keep_their_subjects_and_lists(message: str, facts: list[str]) -> None:
    assert agent.pipeline.facts.extract_facts(message) == facts


def test_a_statement_beside_a_question_is_kept(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="It is sunny.") as bot:
        turn = bot.chat("fyi my visa runs out in 2029, just so you know. btw what's the date?")
        assert turn.text.startswith("Today is ")
        assert [f["text"] for f in turn.facts] == ["My visa runs out in 2029, just so you know."]
        assert "2029" in bot.chat("when does my visa run out?", thread="b").text


def test_he_or_she_after_a_named_person_is_a_fact_about_them(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="Nice!") as bot:
        bot.chat("My sister Ines moved to Porto last spring.")
        turn = bot.chat("she's a pharmacist at the big hospital there")
        assert turn.route == "remember"
        assert [f["text"] for f in turn.facts] == [
            "My sister Ines is a pharmacist at the big hospital there."
        ]
        # a pronoun that does not agree is not guessed
        bot.chat("My uncle Kasper lives in Aarhus.")
        assert not bot.chat("she's lovely").facts


def test_a_bare_detail_question_follows_the_one_before(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="At 10:30 a.m.") as bot:
        bot.chat("My physio appointment is on Tuesday at 8:15 at the Elm Street clinic.")
        assert "Tuesday" in bot.chat("when is my physio appointment?", thread="b").text
        turn = bot.chat("what time?", thread="b")
        assert turn.route == "ask_memory" and "8:15" in turn.text and "10:30" not in turn.text


def test_a_review_asked_for_after_its_reason_reviews_the_quoted_clause() -> None:
    message = (
        "My landlord sent a new lease and one clause bothers me, could you check it? "
        "'The Tenant shall pay all repair costs of the building, whatever their cause.'"
    )
    decision = Router(None).route(message)
    assert decision.route == "review"
    assert agent.pipeline.toolargs.review_source(decision.payload).startswith("The Tenant shall")


def test_how_long_of_a_document_about_it_is_the_sentence_with_the_value() -> None:
    note = (
        "Brightline Kettle - Guarantee\n\nThe kettle is guaranteed for three years from "
        "delivery. The guarantee excludes limescale damage. Send claims to the shop."
    )
    chunk = {"n": 1, "quote": note, "start": 0, "source": "k.txt", "path": "k.txt", "page": None}
    found = agent.pipeline.answers.best_sentence("how long is the guarantee?", [chunk])
    assert found is not None and "three years" in found["sentence"]


def test_facts_of_one_message_do_not_replace_each_other(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="Nice!") as bot:
        bot.chat("I'm Ayodele, I teach chemistry in Leeds.")
        turn = bot.chat("my husband Emeka is a pilot, he flies cargo planes out of Manchester")
        assert [f["superseded"] for f in turn.facts] == [[], []]
        # a pet's name is the pet's, never the user's
        assert not bot.chat("we have an old tabby cat called Ginger").facts[0]["superseded"]
        assert "Ayodele" in bot.chat("what's my name?", thread="b").text
        assert "Emeka" in bot.chat("what's my husband's name?", thread="b").text
        # within one message, a fact that says it changes the one before replaces it
        turn = bot.chat("My sister Noor lives in Derby - no wait, she moved to Bath in June.")
        assert turn.facts[1]["superseded"] == [turn.facts[0]["id"]]


def test_he_and_she_in_a_question_are_whom_the_question_before_named(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="He is a dentist.") as bot:
        bot.chat("My cousin Bartek lives in Gdansk.")
        bot.chat("My cousin Bartek is a carpenter.")
        bot.chat("My dog is called Fudge.")
        bot.chat("My dog Fudge is a brown labrador.")
        assert "Gdansk" in bot.chat("where does Bartek live?", thread="b").text
        assert "carpenter" in bot.chat("what does he do?", thread="b").text
        assert "Fudge" in bot.chat("what's my dog's name?", thread="c").text
        assert "brown" in bot.chat("what colour is he?", thread="c").text


def test_a_follow_up_detail_comes_from_the_fact_that_answered(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="In Rome.") as bot:
        bot.chat("I repair violins in Cremona for a living.")
        assert "violins" in bot.chat("what do I do for work?", thread="b").text
        turn = bot.chat("and in which city?", thread="b")
        assert "Cremona" in turn.text and "Rome" not in turn.text


def test_a_sum_is_worked_out_not_guessed(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="12 times 12 = 120.") as bot:
        assert bot.chat("quick one, what's 12 times 12?").text == "12 × 12 = 144."
        assert bot.chat("what is 20% of 35?").text == "20% of 35 = 7."
        assert bot.chat("I ran 12 km in 60 minutes").route == "remember"


@pytest.mark.integration
def test_a_question_about_the_user_that_a_document_answers_is_cited(tmp_path: Path) -> None:
    # the real embedder: the rule needs the sentence to mean what is asked
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kit.txt").write_text(
        "Kit list for the Dolomites\n\n- two fleece layers\n- helmet (harnesses are lent by "
        "the climbing school)\n- water bottle\n"
    )
    llm = FakeLLM(default="Yes, bring one.", chat_format=TranscriptChatFormat())
    with Agent.open(tmp_path / "home", llm=llm, embedder="minilm") as bot:
        bot.ingest([docs])
        turn = bot.chat("do I need to bring my own harness?")
        assert "lent by the climbing school" in turn.text and turn.citations


def test_the_name_beside_a_relation_is_a_name() -> None:
    found = [{"text": "My manager at the depot is Ruth Abara.", "date": "2026-12-03", "slot": True}]
    reply = agent.pipeline.answers.extractive_answer("who's my manager?", found)
    assert "called at" not in reply and "Ruth Abara" in reply


def test_how_long_of_the_document_itself_is_answered(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kettle.txt").write_text(
        "Brightline Kettle - Guarantee\n\nThe kettle is guaranteed for three years from "
        "delivery. The guarantee excludes limescale damage. Send claims to the shop.\n"
    )
    with _bot(tmp_path / "home") as bot:
        bot.ingest([docs])
        assert "three years" in bot.chat("how long is the guarantee anyway?").text


def test_a_question_typed_without_its_apostrophe_is_asked_not_stored(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("my neighbour's cat is called Pumpernickel")
        turn = bot.chat("whats the cat called again, I always forget")
        assert turn.route == "ask_memory" and "Pumpernickel" in turn.text
        assert not [f for f in turn.facts or [] if f["action"] == "added"]
        remark = bot.chat("ugh mondays, am I right")
        assert remark.route == "chat" and not remark.facts


def test_a_new_job_replaces_the_old_one(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("I'm a sous-chef at Marrowbone Bistro, mostly on the brunch shifts")
        bot.chat(
            "news: I handed in my notice at the bistro! started monday as a lab technician "
            "at Fennick Diagnostics",
            thread="t2",
        )
        reply = bot.chat("where do I work these days?", thread="t3").text
        assert "Fennick" in reply and "Marrowbone" not in reply
    assert memory._slots.slot("I started yoga as a way to relax.") is None


@pytest.mark.parametrize(
    "request_",
    [
        "actually you know what, I don't want Declan anywhere in your memory. wipe him",
        "hmm, don't hang on to anything about Declan please",
    ],
)
def test_forget_requests_in_other_words(tmp_path: Path, request_: str) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("my ex, Declan, still has my record player. I'm not chasing it")
        assert bot.chat(request_).route == "forget"
        assert "Declan" not in bot.chat("who's got my record player?", thread="t2").text


def test_a_rescheduled_appointment_supersedes_the_day_and_keeps_the_time(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("dentist appointment is on the 9th of February at 10:30, with Dr Okafor")
        moved = bot.chat("ugh they just rang and pushed it back to the 23rd of Feb. same time tho")
        assert [f["text"] for f in moved.facts or []] == [
            "Dentist appointment is on the 23rd of Feb at 10:30, with Dr Okafor."
        ]
        assert moved.facts and moved.facts[0]["superseded"]
        reply = bot.chat("when's my dentist appointment?", thread="t2").text
        assert "23rd" in reply and "9th" not in reply
        assert "10:30" in bot.chat("and what time was it?", thread="t2").text


def test_questions_about_the_text_a_tool_was_given_are_answered_from_it(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="A short summary.") as bot:
        bot.chat(
            "summarise this for me: The residents met on Tuesday. The streetlight on Sparrow "
            "Close is still broken. Volunteers for the litter-pick should contact Noreen at "
            "number 12."
        )
        reply = bot.chat("who do I talk to if I want to help with the litter pick?").text
        assert "Noreen" in reply and reply.startswith("The text you gave me says")
        bot.chat(
            'review this clause: "If no notice is received, this Agreement shall automatically '
            'renew for a further term of 24 months."',
            thread="t2",
        )
        advice = bot.chat("what would you push back on if you were me?", thread="t2").text
        assert "renew" in advice and "24 months" in advice


def test_a_code_request_in_another_language_keeps_its_task() -> None:
    decision = agent.pipeline.routing.tool_route(
        "write a bash one-liner that counts the lines in every .csv file"
    )
    assert decision is not None and decision.route == "code"
    again = agent.pipeline.routing.follow_up(
        "and a python version of that?", "code", decision.payload
    )
    assert again is not None and again.payload == (
        "write a python script that counts the lines in every .csv file"
    )


def test_document_answers_set_up_by_a_statement_or_naming_a_code(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "car.txt").write_text(
        "Wrenfield Motor Insurance - Policy summary\n\nVehicle: grey Skoda Fabia\n"
        "Compulsory excess: £250. Voluntary excess: £100.\nCourtesy car: not included.\n"
    )
    (docs / "boiler.txt").write_text(
        "Thermara Combi 28 - Fault codes\n\nE1: Ignition failure. Press reset once.\n"
        "E4: Low system pressure. Top up through the filling loop to 1.5 bar.\n"
        "E7: Flue blocked. Switch the boiler off and call an engineer.\n"
    )
    with _bot(tmp_path / "home") as bot:
        bot.ingest([docs])
        turn = bot.chat(
            "put my car insurance summary in there. what's the compulsory excess on the car?"
        )
        assert "£250" in turn.text and turn.citations
        assert not [f for f in turn.facts or [] if f["action"] == "added"]
        # the code names the line; the line says what to do
        assert "filling loop" in bot.chat("the boiler's flashing E4 - what do I do?").text


def test_whom_a_question_names_before_a_dash_is_asked_about(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat(
            "my brother Theo is a plumber in Galway. his wife Thea is a midwife and works in Cork"
        )
        assert "midwife" in bot.chat("what does Thea do for a living?", thread="t2").text
        reply = bot.chat("and Theo - what's his job?", thread="t2").text
        assert "plumber" in reply and "midwife" not in reply
        # an aside beside the news does not make it small talk
        moved = bot.chat("we finally moved!!! new address is 6 Cooper's Row in Kilbarrow. yay")
        assert moved.route == "remember" and moved.text.startswith("Noted")


def test_a_value_said_to_replace_another_supersedes_it(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("my locker code is 4471. I'm flying to Reykjavik on the 3rd of March for work")
        turn = bot.chat(
            "the work trip got changed - it's Oslo now, not Reykjavik. same date", thread="t2"
        )
        assert [f["text"] for f in turn.facts or []] == [
            "I'm flying to Oslo on the 3rd of March for work."
        ]
        reply = bot.chat("where am I flying to on the 3rd of March?", thread="t3").text
        assert "Oslo" in reply and "Reykjavik" not in reply
        bot.chat("my nephew Bartholomew's favourite dinosaur is the stegosaurus")
        # not a forget: the locker code said in the same breath before stays
        scratch = bot.chat(
            "ALSO scratch the stegosaurus - my sister says he's moved on to the ankylosaurus"
        )
        assert scratch.route == "remember"
        assert "4471" in bot.chat("what's my locker code?", thread="t4").text
        assert "ankylosaurus" in bot.chat("which dinosaur is Bartholomew into?", thread="t4").text


def test_a_fact_stated_beside_a_question_is_said_back(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        turn = bot.chat("fyi my passport runs out in 2031. btw what's the date?")
        assert turn.text.startswith("Today is")
        assert turn.text.endswith("Noted: Your passport runs out in 2031.")
        assert "Noted" not in bot.chat("what's the date?").text  # nothing new kept


def test_a_title_line_is_not_joined_to_the_sentence_under_it() -> None:
    text = (
        "Harbourside Community Choir - Autumn Newsletter\n"
        "Rehearsals have moved to St Aidan's Hall on Quarry Road, Wednesdays at 7:30pm.\n"
        "Our summer concert will be on 21 June at the Corn Exchange.\n"
    )
    assert agent.pipeline.answers.unwrapped(text) == text


def test_changes_and_forgets_said_casually(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("my piano lessons are thursdays at 5 with Miss Halloran, she's lovely")
        moved = bot.chat(
            "ugh scratch that, she just texted - she's moving me to mondays from next week"
        )
        assert [f["text"] for f in moved.facts or []] == [
            "My piano lessons are mondays at 5 with Miss Halloran."
        ]
        assert "mondays" in bot.chat("what day is my piano lesson now?", thread="t2").text
        bot.chat("save my sister Tamsin's new number: 07700 900412")
        bot.chat("sorry, typo'd Tamsin's number earlier - it ends in 417, not 412")
        assert "07700 900417" in bot.chat("what's Tamsin's number?", thread="t3").text
        bot.chat("the allotment gate code is 3917 and my plot neighbour is Hyacinth")
        assert bot.chat("can you un-remember the gate code?").route == "forget"
        bot.chat("I work at a print shop and earn £38,500 a year")
        assert bot.chat("forget my salary pls, that's private").text.startswith("Forgotten")
        assert "38,500" not in bot.chat("how much do I make a year?", thread="t4").text
        bot.chat("we moved!! we're in a terraced house on Lindel Street in Ashcombe now")
        assert "Lindel Street" in bot.chat("what street do I live on?", thread="t4").text


def test_she_after_a_thing_is_the_person_named() -> None:
    facts = agent.pipeline.facts.stated_sentences(
        "my piano lessons are thursdays at 5 with Miss Halloran, she's lovely"
    )
    assert facts == [
        "My piano lessons are thursdays at 5 with Miss Halloran.",
        "Halloran is lovely.",
    ]


def test_tool_follow_ups_with_an_aside_or_an_addition() -> None:
    again = agent.pipeline.routing.follow_up(
        "and in Spanish? one of the altos is from Seville and I want to impress her",
        "translate",
        "how do I say 'where is the station' in French",
    )
    assert again is not None and again.payload == "translate 'where is the station' into Spanish"
    more = agent.pipeline.routing.follow_up(
        "can you add a docstring to it", "code", "write a python function that converts celsius"
    )
    assert more is not None and more.payload.endswith("It should also have a docstring.")


def test_a_business_called_something_is_not_a_pet() -> None:
    fact = "I've started as a sous-chef at a restaurant called Fennick's, first week done."
    assert memory._slots.slot(fact) == ("i", "work")
    assert memory._slots.slot("We have a rescue greyhound called Pixel, she is 4.") is None


def test_a_rescheduling_moves_only_the_day_and_the_time() -> None:
    before, now = agent.pipeline.facts.rescheduled(  # type: ignore[misc]
        "the dentist's office called, they pushed me to Friday at 9:30 in the morning instead",
        "dentist appointment is Thursday at 3pm, Dr Lindqvist's practice",
    )
    assert now == "Dentist appointment is Friday at 9:30 in the morning, Dr Lindqvist's practice."
    assert agent.pipeline.facts.rescheduled("they moved it to Friday", "My physio is Anna") is None


@pytest.mark.parametrize(
    "message, facts",
    [
        # a dashed lead-in about no one is not part of the fact
        (
            "quick life update - my aunt Rosalind moved in with us in May",
            ["My aunt Rosalind moved in with us in May."],
        ),
        # "she" is the one known to be a woman, not the one of unknown gender named last
        (
            "my gran Imelda has a new carer, Tobias. she's on blood thinners so no grapefruit",
            [
                "My gran Imelda has a new carer, Tobias.",
                "My gran Imelda is on blood thinners so no grapefruit.",
            ],
        ),
        # "he" after the user's sentence is the man it named; "and lives" stays his
        (
            "I care for my uncle Brendan, he's 77 and lives with us",
            ["I care for my uncle Brendan.", "Brendan is 77.", "Brendan lives with us."],
        ),
        # "lives" is not the user's verb: kept whole rather than "I lives in Leeds"
        (
            "I met my friend Noor, she's a nurse and lives in Leeds",
            ["I met my friend Noor, she's a nurse and lives in Leeds."],
        ),
        # why a question was asked, and a document handed over, are not facts
        ("what time does the pool open? need it for my schedule", []),
        ("here's the lease from the letting agent", []),
        # a correction's preamble before a dash is dropped
        (
            "oh wait no, I was wrong - Maeve stepped down in March, the new treasurer's Colm",
            ["Maeve stepped down in March, the new treasurer's Colm."],
        ),
    ],
)
def test_lead_ins_pronouns_and_purposes(message: str, facts: list[str]) -> None:
    assert agent.pipeline.facts.extract_facts(message) == facts


def test_questions_led_by_and_or_also_with_a_purpose_clause_are_answered(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="I have no idea.") as bot:
        bot.chat("my nan Orla had a fall, her nurse, Kwame, visits on mondays")
        bot.chat("I've joined a chess club with a guy called Anders. We play at the Lantern pub")
        # "he" of a man the user named, though the sentences' subjects were "I" and "we"
        assert "dentist" in bot.chat("he's a dentist btw").facts[0]["text"]
        reply = bot.chat("also what's the nurse's name, I want to send him a card", thread="b")
        assert "Kwame" in reply.text
        assert "Lantern" in bot.chat("and where do me and Anders play?", thread="b").text
        assert "Kwame" in bot.chat("and who visits nan on mondays", thread="b").text


def test_who_is_asked_by_the_role_and_a_change_answers_with_its_new_value(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="I have no idea.") as bot:
        bot.chat("at the tennis club Rowan runs the bar and Roisin is the coach")
        bot.chat("Maeve stepped down in March, the new treasurer's Colm")
        reply = bot.chat("who's the coach at the tennis club?", thread="b").text
        assert "Roisin" in reply and "Rowan" not in reply
        reply = bot.chat("who's the treasurer?", thread="b").text
        assert "Colm" in reply and "Maeve" not in reply


def test_a_forms_fields_are_each_an_answer(tmp_path: Path) -> None:
    form = tmp_path / "plan.txt"
    form.write_text(
        "Care plan - Mr Alwyn Pryce\nVisits: 9:00 and 17:00 daily\n"
        "Allergies: latex\nMobility: uses a stick outdoors\n"
    )
    with _bot(tmp_path / "home", reply="He has a cold.") as bot:
        bot.ingest([form])
        turn = bot.chat("what's grandad allergic to?")
        assert "latex" in turn.text and "stick" not in turn.text and turn.citations


def test_forgetting_part_of_a_memory_keeps_the_rest_and_erases_the_part(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with _bot(home) as bot:
        bot.remember("I live at 9 Marsh Lane. The alarm code is 2290.")
        turn = bot.chat("actually can you forget the alarm code, feels risky")
        assert turn.route == "forget" and "(1 memory" in turn.text
        assert [r.text for r in bot.memory.list("me")] == ["I live at 9 Marsh Lane."]
        assert "Marsh Lane" in bot.chat("where do I live?", thread="b").text
    assert b"2290" not in (home / "memory.db").read_bytes()


@pytest.mark.parametrize(
    "ask",
    [
        "you don't need to hold on to my GP's name, drop it please",
        "Actually, on reflection I'd rather you didn't keep health things. Please wipe what I "
        "said about my GP.",
    ],
)
def test_forget_said_as_what_need_not_be_kept(tmp_path: Path, ask: str) -> None:
    with _bot(tmp_path) as bot:
        bot.remember("My GP is Dr Okafor.")
        bot.remember("I bank with Norda Bank.")
        assert bot.chat(ask).route == "forget"
        assert [r.text for r in bot.memory.list("me")] == ["I bank with Norda Bank."]


def test_a_question_inside_a_message_is_asked_and_a_value_after_i_dont_know_is_kept(
    tmp_path: Path,
) -> None:
    with _bot(tmp_path, reply="No idea.") as bot:
        bot.chat("making a huge paella tonight for my neighbours, Ilse and Bram")
        turn = bot.chat("lol ok. wait what am i cooking tonight again, brain is fried", thread="b")
        assert "paella" in turn.text and not turn.facts
        assert bot.chat("do you know my name?", thread="b").text.startswith("I don't know")
        assert bot.chat("ha fair, it's Ottilie", thread="b").facts[0]["text"] == (
            "My name is Ottilie."
        )
        assert "Ottilie" in bot.chat("what's my name?", thread="c").text
        # a story's lead-in is not an aside that empties it
        said = bot.chat("long story short, my aunt Vera gave me her old van")
        assert said.facts and "Vera" in said.facts[0]["text"]
        assert bot.chat("who gave me the van?", thread="d").route == "ask_memory"


def test_a_relation_asked_of_is_the_person_named_as_it(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="No idea.") as bot:
        bot.chat("housekeeping: Ravi is my landlord, Rob is my lodger. Rob owes me £60 for gas")
        reply = bot.chat("how much does my lodger owe me?", thread="b").text
        assert "60" in reply and "Ravi" not in reply
        # what they are, said in brackets, stays with the name
        bot.chat("Pippin (our border terrier) is 9 and hates the vet")
        assert "terrier" in bot.chat("what kind of dog is Pippin?", thread="b").text
        # of two people in one fact, the part about the one asked
        bot.chat("Ines at number 4 is the retired judge, Inez at number 8 runs the bakery")
        reply = bot.chat("what number does Ines live at?", thread="b").text
        assert "4" in reply and "8" not in reply
        # of a fact of two sentences, the one that answers
        bot.remember("Tomasz is the apprentice I'm mentoring. Tamsin's birthday is 2 June.")
        reply = bot.chat("who am I mentoring again?", thread="c").text
        assert "Tomasz" in reply and "Tamsin" not in reply


def test_a_yes_no_question_after_a_document_quote_stays_with_the_documents(
    tmp_path: Path,
) -> None:
    sheet = tmp_path / "welcome.txt"
    sheet.write_text("Welcome to Heron Barn.\nWifi network: HeronGuest, password: otter-44\n")
    with _bot(tmp_path / "home", reply="Yes, there is a sauna.") as bot:
        bot.ingest([sheet])
        assert "otter-44" in bot.chat("what's the wifi password?").text
        turn = bot.chat("is there a sauna?")
        assert turn.route == "ask_documents" and "sauna" not in turn.text.lower()


def test_a_thing_said_to_have_moved_reschedules_the_fact_about_it(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.chat("joined a life drawing class!! wednesdays at 7.15 at the Corn Exchange")
        bot.chat("the tutor's called Bexley, she's brilliant")
        turn = bot.chat("oh wait, they emailed, drawing's been moved to fridays from next week")
        assert "replaces" in turn.text
        reply = bot.chat("remind me what night my drawing class is on?", thread="b").text
        assert "Fridays at 7.15" in reply and "wednesday" not in reply.lower()
        # "she" is still the one left unnamed, not the man named in her clause
        said = bot.chat("so she's not with Tobiah anymore, her coach is Nadia now").facts
        assert "Tobiah's coach" not in str(said)
        # an appointment's time is not the clock's
        bot.chat("Booked the optician for 9 March at 11:20.")
        assert "11:20" in bot.chat("what time is it at?").text


def test_tool_requests_after_a_lead_in_or_with_a_reason_after_them() -> None:
    route = Router(None).route
    clause = 'about to renew my lease, can you check this clause for anything dodgy?\n\n"4.1 Rent '
    clause += 'may rise at any time."'
    turn = route(clause)
    assert turn.route == "review" and turn.payload.startswith("can you check")
    change = agent.pipeline.routing.follow_up(
        "nice, can you change it so it rounds the result to 1 decimal place",
        "code",
        "write a python function that converts miles to km",
    )
    assert change is not None and change.payload.endswith("round the result to 1 decimal place.")
    from tools.translate import LANGUAGES

    args = agent.pipeline.toolargs.parse_translate(
        "can u translate 'where is the pharmacy' into german, off to Graz soon and a bit nervous",
        LANGUAGES,
    )
    assert args == agent.pipeline.toolargs.TranslateArgs("where is the pharmacy", "de")


def test_which_of_them_is_the_part_naming_who_does_it(tmp_path: Path) -> None:
    with _bot(tmp_path, reply="No idea.") as bot:
        bot.remember(
            "Hanne at number 3 is the retired nurse, Hanna at number 5 runs the bike repair shop."
        )
        reply = bot.chat("which of my neighbours fixes bikes?").text
        assert "Hanna" in reply and "Hanne" not in reply


def test_forget_with_its_new_value_is_a_change_and_what_colour_follows_up(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        turn = bot.chat("being realistic, forget the sub-3 goal, new target is 3h20")
        assert turn.route == "remember" and turn.facts[0]["text"] == "My new target is 3h20."
        bot.chat("I now drive a green Kia Picanto.")
        assert "green" in bot.chat("what colour is it", thread="main").text


def test_she_after_an_adopted_animal_is_the_animal_not_a_word_of_a_charity(
    tmp_path: Path,
) -> None:
    facts = agent.pipeline.facts.extract_facts(
        "We adopted an old whippet from the Fenwick Dog Rescue today!! She's 9, her old name "
        "was Comet"
    )
    assert facts[1:] == ["Our whippet is 9.", "Our whippet's old name was Comet."]


def test_a_title_s_full_stop_splits_no_fact(tmp_path: Path) -> None:
    with _bot(tmp_path) as bot:
        bot.remember("I bank with Norda. My dentist is Dr. Abara on Mill Street.")
        assert "Abara" in bot.chat("Who is my dentist?").text
        bot.chat("please forget my dentist")
        assert "Abara" not in str([r.text for r in bot.memory.list("me")])


def test_relative_clauses_plural_they_and_forgetting_what_the_lead_in_named(
    tmp_path: Path,
) -> None:
    facts = agent.pipeline.facts.extract_facts(
        "at the rugby club Ned runs the bar and Nell is the physio who does the strapping. "
        "they're always bickering"
    )
    assert facts[0] == "At the rugby club Ned runs the bar."
    assert facts[1].startswith("Nell is the physio who does the strapping.")
    assert "Nell 're" not in str(facts)  # "they" is both of them, not Nell
    with _bot(tmp_path) as bot:
        bot.chat("I'm 81 kilos right now and my brother's getting married in June")
        turn = bot.chat("hmm actually I don't love having my weight saved. delete that please")
        assert "(1 memory" in turn.text
        assert [r.text for r in bot.memory.list("me")] == ["My brother's getting married in June."]
        bot.chat("my partner Noor and I just adopted a kitten, we named him Biscuit")
        assert "Biscuit" in bot.chat("what's the kitten called?").text
