"""The word lists behind the classifier's signal tokens (pure functions)."""

from __future__ import annotations

from triage.lexicon import lexicon_tokens, non_members_named, sentence_tokens, sentences


def test_list_words_do_not_fire_inside_other_words():
    text = ("I have useful skills and live near Blackburn. The painkillers helped with the sunburn. "
            "Jane Maddox left a rucksack at the other faith group. The claim went unchallenged.")
    tokens = lexicon_tokens(text) + sentence_tokens("", text)
    for token in ("lex_threat", "lex_harass", "lex_review", "lex_s_prejudice"):
        assert token not in tokens, token


def test_each_list_catches_its_idea_in_unseen_wording():
    assert "lex_threat" in lexicon_tokens("I know where you live and you will regret this.")
    assert "lex_review" in lexicon_tokens("Please reconsider; the decision was flawed.")
    assert "lex_nonmember" in lexicon_tokens("The BBC programme last night was biased.")
    assert "lex_customer" in lexicon_tokens("My paper has not been delivered for a week and I want a refund.")
    assert "lex_automated" in lexicon_tokens("I am out of the office until Monday.")
    three = lexicon_tokens("Appeal. I appeal. This is an appeal against the decision.")
    assert "lex_review_many" in three


def test_an_insult_counts_as_directed_only_when_it_is_aimed_at_the_reader():
    at_staff = "You are an incompetent idiot and your officer is a moron."
    at_paper = "The reporter is an idiot who cannot spell. Please help me correct the article."
    assert "lex_insult_directed" in lexicon_tokens(at_staff)
    assert "lex_s_insult_reader" in sentence_tokens("", at_staff)
    assert "lex_s_insult_reader" not in sentence_tokens("", at_paper)
    assert "lex_s_insult_press" in sentence_tokens("", at_paper)
    # An apology for the language is not abuse of the reader.
    assert "lex_s_insult_excused" in sentence_tokens("", "Sorry for the language, but this idiot paper lied.")


def test_a_threat_in_the_subject_line_is_read_too():
    assert "lex_s_threat" in sentence_tokens("I know where you live", "Please reply about my case.")


def test_sentences_split_on_punctuation_paragraphs_and_bullets():
    assert sentences("One. Two!\n\nThree\n- four\n* five") == ["One.", "Two!", "Three", "- four", "* five"]


def test_non_members_are_named_as_written_once_each():
    assert non_members_named("The BBC and ITV, then the BBC again on Sky News.") == ["BBC", "ITV", "Sky News"]


def test_words_with_an_everyday_sense_count_only_in_the_lists_sense():
    everyday = ("I was passed over for promotion. Ticket sales for our gig dipped. He was charged with "
                "assault. They cancelled the tour.")
    assert lexicon_tokens(everyday) == []
    assert lexicon_tokens("This still hurts. I kept your address from last year.") == []
    assert "lex_threat" in lexicon_tokens("I know your house and I will hurt you.")
    service = "Please cancel my direct debit: you charged me twice. Your ticket number is 5. It is a paid promotion."
    assert {"lex_customer", "lex_automated", "lex_advert"} <= set(lexicon_tokens(service))


def test_veiled_threats_and_demeaning_remarks_at_staff_are_read():
    assert "lex_s_threat" in sentence_tokens("", "I gather you live in Didsbury. I'm sure we'll run into each other.")
    assert "lex_s_threat" in sentence_tokens("", "My brother-in-law is a bailiff and he's been given your name.")
    assert "lex_s_prejudice" in sentence_tokens("", "You have a very sexy voice. Be a good girl and sort it.")
    assert "lex_s_insult_reader" in sentence_tokens("", "Thanks for nothing, you overpromoted receptionist.")
    assert "lex_s_insult_reader" in sentence_tokens("For whichever halfwit signed this", "See attached.")
    # The same words about the people in a story are not aimed at staff.
    story = "The article said she lives in Leeds. The reporter went past my house twice."
    assert not {"lex_s_threat", "lex_s_prejudice"} & set(sentence_tokens("", story))


def test_which_side_a_representative_writes_for():
    for_complainant = "We act for Ms Delaney and are instructed to withdraw her complaint."
    for_paper = "We act for the Daily Mail. The complainant's account is wrong and we stand by our article."
    assert "lex_complainant_side" in lexicon_tokens(for_complainant)
    assert "lex_complainant_side" not in lexicon_tokens(for_paper)
    assert "lex_complainant_side" in lexicon_tokens("I write on behalf of my constituents, Mr and Mrs Baird.")
