"""Word lists that turn what a message says into signal tokens for the classifier.

Each list gathers many ways of saying one thing (an insult aimed at staff, a
threat, a request to look at a decision again, a broadcaster, a delivery
problem...) into one token, so the model learns the idea from a few examples
and recognises wordings it has never seen. Only the sender's own new text is
scanned: quoted and forwarded material belongs to someone else.
"""

from __future__ import annotations

import re

# Text is lower-cased once before matching: case-sensitive patterns are several
# times faster than re.I ones, and every pattern here is written in lower case.
# Lists that start with a word start at a word boundary ("kill" must not fire in
# "skills", nor "burn" in "Blackburn"); the leading \b also lets the regex engine
# skip most positions, which halves the time of the longest lists. Lists with a
# "n't" alternative ("don't want") cannot take it.
_FLAGS = 0

_INSULT = (
    r"f+u+c+k\w*|f\*+\w*|f\W?\*+k\w*|sh[i1\*]t\w*|bastard\w*|wank\w*|twat\w*|prick\w*|dick\s?head\w*|"
    r"arse\s?hole\w*|ass\s?hole\w*|c\*+t|cunt\w*|bitch\w*|idiot\w*|moron\w*|imbecile\w*|cretin\w*|"
    r"half[- ]?wit\w*|clowns?|muppets?|numpty|numpties|pathetic|useless|incompetent|spineless|"
    r"gutless|cowards?|cowardly|scum\w*|vermin|parasites?|jobsworths?|pen[- ]pushers?|stupid|"
    r"brain[- ]?dead|thick|dimwit\w*|retard\w*|lowlifes?|disgusting|worthless|lazy|"
    r"bloody|bollocks|piss\w*|sod off|crooks?|corrupt|liars?|lying|snowflakes?|clueless|"
    r"jumped[- ]up|little hitler|puppets?|lapdogs?|toothless|waste of (space|oxygen|money|skin)"
)
_DIRECTED = re.compile(
    rf"\b(you|your|ur|u|ye|yous|you lot|your lot|your staff|your officer|ipso|this organisation|"
    rf"your organisation|the officer|whoever|whoever wrote)\b[\w\s',]{{0,40}}?\b({_INSULT})\b"
    rf"|\b({_INSULT})\b[\w\s,]{{0,25}}?\b(you|your|ipso|staff|officers?)\b",
    _FLAGS,
)
_INSULT_RE = re.compile(rf"\b({_INSULT})\b", _FLAGS)
_THREAT = re.compile(
    r"\b(?:where you live|find (out )?where|(know|found|find|got|have|seen) your (home|house|family|kids|"
    r"children|wife|husband|car)|your (home|house) address|"
    r"(come|turn up|coming|visit|waiting|wait) (down )?(to|at|outside|for you at|round to)( your| the)? "
    r"(office|building|door|reception|home)|outside your (office|building|door|home)|"
    r"(you|you'll|you will|u will) (regret|be sorry|pay for)|watch your back|i know people|"
    r"(hurt|kill|burn|smash|torch|sort out|deal with) (you|him|her|them|your|someone|somebody|the officer)|"
    r"sort (you|them) out|consequences for you|something (bad )?"
    r"(to )?happen(s)? to|wrong hands|long memor(y|ies)|dox\w*|(post|publish|share|put) (your|their|"
    r"staff|the officer'?s?) (names?|details|address|photos?)|online for everyone|"
    r"i will (find|come|make you)|you have been warned|last warning|be afraid|not (be )?safe)",
    _FLAGS,
)
_DISCRIMINATION = re.compile(
    r"\b(?:p\*+ki|typical (woman|women|female)|speak (proper )?english|go back to (your|where)|"
    r"your (sort|kind|people)|foreigners?|immigrants? like you|(stupid|silly) (girl|woman|little)|"
    r"love\b.{0,20}\bdear|sweetheart|darling|your accent|headscarf|pronouns|woke|"
    r"(jew|muslim|catholic|gay|trans)\w* (lover|loving|agenda))",
    _FLAGS,
)
_HARASS = re.compile(
    r"\b(?:(\d+|tenth|twelfth|fifteenth|twentieth)(st|nd|rd|th)? (e-?mail|message|time|call)s? "
    r"(today|this (week|morning))|every (hour|day|ten minutes|\d+ minutes)|(ring|call|email|e-mail) "
    r"(you )?(every|again and again|until)|i will keep|until (someone|you) (answers?|replies?|responds?)|"
    r"within the hour|by (close of business|5pm|noon) today|i demand|i insist|copied to|cc'?d? (in )?"
    r"(every|all)|sack(ed)?|fire (her|him|them|the officer)|disciplin\w+)",
    _FLAGS,
)
_REVIEW = re.compile(
    r"\b(?:review\b|appeal\w*|re-?consider\w*|look (at (this|it|my complaint) )?again|re-?examin\w+|"
    r"escalat\w+|challeng\w+|overturn\w*|(dis)?agree with (your|the|this) (decision|outcome|ruling|finding)|"
    r"(do not|don't|cannot|can't|won't) accept (your|the|this) (decision|outcome|ruling|finding|view)|"
    r"decision (is|was) (wrong|flawed|unfair|perverse|incorrect|mistaken)|flawed|complaints reviewer|"
    r"take (this|it|my complaint|the matter) further|someone (more )?senior|(above|over) (you|your head)|"
    r"(your|the) (officer|decision|committee) (got it wrong|was wrong|failed)|re-?open\w*|second look)",
    _FLAGS,
)
_NON_MEMBER = re.compile(
    r"\b(guardian|observer|financial times|the ft|private eye|byline|the canary|novara|bbc|itv|"
    r"channel (4|5|four|five)|sky news|gb ?news|lbc|talk ?tv|talksport|times radio|radio \d|radio|"
    r"television|tv|programme|presenter|broadcast\w*|ofcom|podcast\w*|netflix|youtube|"
    r"documentary|episode|impress)\b",
    _FLAGS,
)
# Words with a second, everyday sense ("passed over for promotion", "ticket sales",
# "he was charged with", "cancelled the gig") count only in the sense the list is about.
_ADVERT = re.compile(r"\b(advert\w*|advertis\w+|\bads?\b|asa|sponsored|(paid|sales|special) promotion|"
                     r"promoted (post|tweet|content|listing)|advertorial|commercial (break|content))\b",
                     _FLAGS)
_SOCIAL = re.compile(r"\b(facebook|twitter|tweet\w*|x\.com|instagram|tiktok|snapchat|reddit|"
                     r"whatsapp|nextdoor|influencer|social media post|my neighbour'?s? post)\b", _FLAGS)
_CUSTOMER = re.compile(
    r"\b(deliver(y|ed|ies)|paper ?(boy|girl|round)|subscri\w+|cancel\w* (my|the|our|a) (order|"
    r"paper|delivery|direct debit|membership|account)|refund\w*|"
    r"billing|billed|direct debit|(over)?charged (me|us|twice|for)|renewal|competition|prize|voucher|"
    r"puzzle|crossword|"
    r"sudoku|paywall|app (crash|keeps)|customer (service|services)|price (rise|increase))\b",
    _FLAGS,
)
_OTHER_BODY = re.compile(
    r"\b(council|councillors?|police|constable|nhs|hospital|gp|landlord|employer|my boss|"
    r"energy (company|supplier)|airline|bank|dwp|benefits|housing association|ombudsman|"
    r"neighbours?|school|tribunal|court case|sue|suing|legal advice|lawsuit|injunction|libel|"
    r"defamation|compensation)\b",
    _FLAGS,
)
_PUBLICATION_VOICE = re.compile(
    r"\b(our client|we act for|acting for|on behalf of (the|our) (newspaper|publication|publisher|"
    r"title|paper|editor|website)|our (reporter|journalist|correspondent|photographer|editor|"
    r"newsdesk|readers'? editor|lawyers?|legal team|article|coverage|story|publication|title|paper|"
    r"website|columnist|standards|reporting)|the complainant|complainant'?s|we (have )?amended|"
    r"(added|append\w*|publish\w*) a (footnote|correction|clarification)|we (are|would be) (happy|"
    r"willing|prepared) to|we stand by|we do not accept that|we maintain|the (newspaper|publication) "
    r"(maintains|accepts|regrets|denies)|resolved directly|extension|without prejudice|"
    r"proposed (wording|correction)|managing editor|editor-in-chief|readers'? editor|head of "
    r"(legal|editorial)|group (legal|complaints))\b",
    _FLAGS,
)
_FOLLOWUP_VOICE = re.compile(
    r"\b(my complaint|my case|any (update|news|progress)|an update|still waiting|as (you )?requested|"
    r"you asked|please find attached|further to|following up|i enclose|here (is|are) the|"
    r"i accept|happy with the (offer|correction|wording)|not happy with the (offer|paper|response)|"
    r"withdraw\w*|no longer wish|their (response|reply|offer)|the paper'?s (response|reply|offer)|"
    r"they (replied|responded|offered|sent)|my reference|case (number|ref))\b",
    _FLAGS,
)
# Lawyers, MPs' caseworkers and relatives write for complainants too; "our client"
# alone does not tell which side a letter is on.
_COMPLAINANT_SIDE = re.compile(
    r"\b((our|my) client'?s (complaint|concerns?)|complaint (made|brought|lodged) by (our|my) client|"
    r"(withdraw|pursue|continue with) (her|his|their|our client'?s?|the) complaint|"
    r"(accept|reject|consider)s? the (publication|newspaper|paper|editor|title)'?s? (offer|proposal|"
    r"response|reply|wording)|on behalf of (my|our|her|his) (client|constituents?|son|daughter|mother|"
    r"father|husband|wife|partner|family|members?)|constituents?|(signed |letter of )?(mandate|authority)"
    r" (to act|from (her|him|them|my|our))|instructed (by|to withdraw))\b",
    _FLAGS,
)
_NEW_VOICE = re.compile(
    r"\b(i (wish|want|would like) to (make a )?complain\w*|make a complaint|formal complaint|"
    r"(the|this|an|your) (article|headline|story|piece|report|photo\w*|picture|image|caption|"
    r"front page|column)|published|printed|online (article|version)|breach\w*|clause \d+|"
    r"editors'? code|inaccura\w+|misleading|misrepresent\w*|intrusi\w+|privacy|harass\w+ by|"
    r"(reporter|journalist|photographer)s? (came|knocked|turned up|doorstep\w*|approached))\b",
    _FLAGS,
)
_AUTOMATED = re.compile(
    r"\b(out of (the )?office|away from (the office|my desk)|annual leave|on leave|return(ing)? on|"
    r"back (in the office )?on|limited access to (email|e-mail)|no longer (work|with|at)|"
    r"not (being )?monitored|do not reply|no-?reply|automated|automatic(ally)?|auto-?reply|"
    r"delivery (has )?failed|undeliver\w+|could not be delivered|mailbox (is )?(full|unavailable)|"
    r"(support |your )?ticket (number|no|ref\w*|id|#)|request (number|#)|unsubscribe|newsletter|webinar|"
    r"password|verification code|"
    r"security code|confirm (your|that you)|this is an automated|do not respond|sent automatically)\b",
    _FLAGS,
)

_GROUPS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("lex_insult", _INSULT_RE),
    ("lex_threat", _THREAT),
    ("lex_discrimination", _DISCRIMINATION),
    ("lex_harass", _HARASS),
    ("lex_review", _REVIEW),
    ("lex_nonmember", _NON_MEMBER),
    ("lex_advert", _ADVERT),
    ("lex_social", _SOCIAL),
    ("lex_customer", _CUSTOMER),
    ("lex_otherbody", _OTHER_BODY),
    ("lex_pubvoice", _PUBLICATION_VOICE),
    ("lex_followup", _FOLLOWUP_VOICE),
    ("lex_complainant_side", _COMPLAINANT_SIDE),
    ("lex_newvoice", _NEW_VOICE),
    ("lex_automated", _AUTOMATED),
)


def lexicon_tokens(text: str) -> list[str]:
    """Signal tokens for ``text``: one per matching list, a second ('_many')
    when the list matches three or more times, and ``lex_insult_directed``
    for an insult aimed at the reader."""
    text = text[:8_000].lower()
    out: list[str] = []
    for name, pattern in _GROUPS:
        hits = len(pattern.findall(text))
        if hits:
            out.append(name)
            if hits >= 3:
                out.append(name + "_many")
    if "lex_insult" in out and _DIRECTED.search(text):
        out.append("lex_insult_directed")
    return out


# ----------------------------------------------------------- sentence-level cues
#
# The lists above look at the whole text. Abuse is different: whether a rude
# word is abuse of staff depends on the sentence it sits in (aimed at "you",
# "your officer", "whoever wrote that", or at the newspaper the sender is angry
# with). So the new text is split into sentences and each is read on its own.

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\s\|\s|\n(?=\s*[-*\u2022\d])")
_MASKED = r"[a-z]+\*+[a-z]*|[a-z]\W?\*+\W?[a-z]*"
_STRONG_INSULT = (
    rf"{_MASKED}|f+u+c+k\w*|sh[i1]te?s?|bastard\w*|wank\w*|twats?|pricks?|dick\s?heads?|"
    r"arse\s?holes?|ass\s?holes?|arses?|cunts?|bitch\w*|cows?|slags?|pigs?|idiot\w*|moron\w*|imbeciles?|"
    r"cretin\w*|half[- ]?wit\w*|nitwits?|dimwit\w*|clowns?|muppets?|numpty|numpties|prats?|plonkers?|"
    r"tossers?|bell\s?ends?|knobs?|gits?|fools?|foolish|buffoons?|oafs?|dolts?|dunces?|simpletons?|"
    r"eejits?|fud|weirdos?|losers?|nonces?|creeps?|snakes?|rats|scum\w*|vermin|parasites?|"
    r"jobsworths?|pen[- ]?pushers?|clipboard \w+|functionar(y|ies)|stooges?|lackeys?|puppets?|lapdogs?|"
    r"stupid|dumb|thick|brainless|brain[- ]?dead|senile|retard\w*|lowlifes?|idiocy|"
    r"jumped[- ]up|little hitler|waste of (space|oxygen|money|skin)|wretched|spineless|gutless|"
    r"racists?|bigots?|sod off|bollocks|piss\w*"
)
# Sharp criticism: abuse only in company (the rules allow criticism of the organisation).
_WEAK_INSULT = re.compile(
    r"\b(cowards?|cowardly|spineless|gutless|toothless|incompetent|useless|pathetic|clueless|lazy|idle|"
    r"callous|heartless|disgrace(ful)?|a joke|liars?|lying|crooks?|corrupt|bloody|shambles|farce|"
    r"contempt|arrogan\w+|rude|patronising|condescending)\b",
    _FLAGS,
)
_STRONG_RE = re.compile(rf"\b({_STRONG_INSULT})(?!\w)", _FLAGS)
# Talking down to the reader: insults without a rude word.
_CONDESCEND = re.compile(
    r"\b(?:smaller words|more slowly|ask a grown[- ]?up|(finished|left|went to) (secondary |primary )?school|"
    r"(a|one|single) brain ?cell|(legal )?understanding of a \w+|first[- ]year \w+ student|"
    r"suited to (work|the job|this job)|in the wrong job|not fit (for|to)|should be (sacked|fired|"
    r"ashamed|embarrassed|put out)|put out to (grass|pasture)|learn(t|ed)? (how )?to (read|double-click|"
    r"count|spell)|can(not|'t) even (read|count|spell)|never worked (in|a day)|thanks for nothing|"
    r"go (and )?(touch grass|f\w*|to hell|jump)|stick (it|your \w+) up|up your (a\w*|backside)|"
    r"drop dead|choke on|rot in hell|hope (you|he|she|they) (die|choke|rot|get)|"
    r"hit by a (bus|car|train|lorry)|reading age|over-?promoted|(qualified|proper|real) adult|"
    r"(since|when) you were in nappies|back to school|(you|you lot|yous) are (a |an )?(joke|disgrace|waste))",
    _FLAGS,
)
_AT_READER = re.compile(
    r"\b(you|your|yours|yourself|yourselves|u|ur|ye|yous|ipso|officers?|staff|caseworkers?|"
    r"reviewer|assessor|whoever|whichever|the (young )?(man|woman|lady|girl|lad|chap|person) who|"
    r"colleagues?|employees?|team|the lot of you|he|she|him|her|his)\b",
    _FLAGS,
)
_AT_PRESS = re.compile(
    r"\b(newspapers?|paper|rag|tabloid|editors?|reporters?|journalists?|hacks?|press|article|"
    r"story|headline|columnists?|they|them|their|the sun|the mail|the mirror|the express|the star)\b",
    _FLAGS,
)
_NOT_AT_READER = re.compile(
    r"\b(?:(not|isn't|is not|wasn't|never) (aimed|directed|meant|personal|at you)|no offence|"
    r"not your fault|not blaming you|i know (you're|you are) (just|only) doing|"
    r"(nothing|not anything) (personal|against you)|sorry (to|for) (swear|the language))",
    _FLAGS,
)
_THREAT_MORE = re.compile(
    r"\b(watch (his|her|your|their) back|watch (him|her|your|them|thy)sel\w*|know where (you|he|she|they|"
    r"your office|your staff)|where (you|he|she|they) (live|work|park)|(home|house) address|"
    r"(coming|come) for (you|him|her)|(be|it would be|would be) a (shame|pity) if|"
    r"(something|anything) (bad )?(happened|happens|to happen) to|wrong hands|name to get (about|out)|"
    r"know what (he|she|you|they) look(s)? like|horse-?whip\w*|good hiding|box (his|her|your) ears|"
    r"over (someone's|my|somebody's) knee|(can't|cannot|won't) be responsible for|(can't|cannot) "
    r"stop (them|him)|have a (word|quiet word) with|big lads|accidents (can )?happen|be careful|"
    r"i know people|i ken people|(if|when) i see (you|u|him|her)|irl|ur getting it|getting what's coming|"
    r"(write|writing|call|visit|visiting) (to )?(him|her|you|them) at home|past your office|"
    r"lot of glass|you('ll| will) (regret|be sorry|pay)|i('ll| will) (find|get) (you|him|her)|"
    r"you (have|'ve) been warned|see you (outside|soon)|on (your|his|her) doorstep|"
    r"connection request|(pop|come|go|going) round|knock on (the|your|her|his) door|"
    r"(road|street|house|town|where) (she|he|you|they) lives?\b|what (her|his|your) (car|house|kids?) "
    r"looks? like|(your|their) (kids|children|wife|husband|family) (know|will|are)|"
    r"(you|they|he|she) (should|had better|better) (be careful|watch)|"
    # turning up, watching, being found
    r"(drove|drive|driving|walked|went|going|go|been) (past|by) (your|his|her|their|\w+'s) "
    r"(house|home|place|flat|office|garden)|(bump|bumped|run|ran|running) into (you|him|her|each other|"
    r"the officer)|(gather|hear|heard|know|noticed|see) (that )?(you|he|she) lives?|"
    r"(been given|passed on|handed|got hold of) (your|his|her) (name|address|details|number)|"
    r"(good at|at) finding people|track (you|him|her) down|followed (you|him|her) on|"
    r"what (you|he|she) (do|does) and where|dark (car park|alley|street|lane)|"
    # violence by euphemism
    r"dental work|thrashing|a (slap|smack|clip round)|put my (foot|fist|boot)|"
    r"deal with (pests|people like)|my lads)\b",
    _FLAGS,
)
_PREJUDICE_MORE = re.compile(
    r"\b(?:off the boat|proper english|english person|speak english|with a name like|"
    r"(check|clear it) with (the|his|her) (imam|rabbi|priest|mosque)|(people|person) of (her|his|that|"
    r"your) (faith|religion|colour|race|sort|kind)|(her|his|your) (faith|religion|race|colour|accent|"
    r"headscarf|turban|hijab)|foreigners?|(typical|stupid|silly) (woman|girl|little|foreigner)|"
    r"sexy|good girl|little lady|girlie|pretty (little )?head|(state|colour) of (her|your) "
    r"nails|(back to|in) the kitchen|disgrace to (her|his|your) sex|sounds? like a (bloke|man|woman)|"
    r"time of the month|hormon\w+|send me a (photo|picture)|put a face to|bet you look)",
    _FLAGS,
)
# Not a complaint about the content: comments, copyright, taste, coverage.
_REMIT = (
    ("comments", re.compile(
        r"\b(comments? (section|under|below|underneath|beneath|on (the|their))|(reader|readers'|user) "
        r"comments|below the line|commenters?|moderat\w+)\b", _FLAGS)),
    ("copyright", re.compile(
        r"\b(copyright|without (permission|payment|credit|paying)|going rate|credited|licen[cs]e|"
        r"intellectual property)\b", _FLAGS)),
    ("taste", re.compile(
        r"\b(front pages?|(at )?(child|eye) (height|level)|children (can|could|will) see|(bad|poor) taste|"
        r"tasteless|distasteful|offensive|swear ?word|should(n't| not) be (published|allowed|printed)|"
        r"views like|(left|right)[- ]wing|bias(ed)?|too many (stories|articles)|nobody cares)\b", _FLAGS)),
    ("coverage", re.compile(
        r"\b((won't|wont|will not|refuse to|never) (write|cover|report|print|publish|touch)|"
        r"(get|put) (us|me|it|him|her|this) in|coverage (of|for) (my|our)|publicity|press release)\b",
        _FLAGS)),
    ("elsewhere", re.compile(
        r"\b((spanish|french|german|american|us|foreign|overseas|irish|australian|european) "
        r"(newspaper|paper|website|media|press|publication)|not a member|isn't a member|"
        r"(facebook|community) group|group admin|the admin|blog(ger)?|podcast)\b", _FLAGS)),
    ("notcomplaint", re.compile(
        r"\b((not|n't) (wish|want|intend|looking|planning) to (make|lodge|submit|bring) (a |any )?"
        r"(formal )?complaint|not (instructing|asking) (you|ipso) to (take|do)|legal advice|"
        r"(can|could|should) i sue|how much (i'd|i would|would i) (get|be likely))\b", _FLAGS)),
)
_ARTICLE_OK = re.compile(
    r"(article|story|piece|report)( itself)? (is|was) (fine|lovely|accurate|ok|okay|not the problem)|"
    r"(nothing|not anything) wrong with the (article|story|piece|report)|"
    r"(not|n't) (complaining|disputing|bothered) about (the|any|this) (particular )?"
    r"(article|story|piece|report)|(do not|don't|not) take issue with (it|the (article|story))|"
    r"(not|n't) (disputing|saying) (that )?the (news|article|story)",
    _FLAGS,
)
_REVIEW_DENIED = re.compile(
    r"(not|n't|no need to) (asking|requesting|seeking|wanting|want|trying|looking) (you )?(for |to )?"
    r"(a |an )?(review|appeal|look at [\w ]{0,20}again|reconsider|challenge|re-?open)|"
    r"(not|n't) (asking|want\w*) [\w ]{0,30}(again|reviewed)|accept the (decision|outcome)|"
    r"(not|n't|won't|will not|shall not) (waste|bother) the (complaints )?reviewer|"
    r"review the (attached|enclosed|documents)",
    _FLAGS,
)


def sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SENTENCE.split(text)) if s]


def sentence_tokens(subject: str, text: str) -> list[str]:
    """Tokens from sentence-level cues (see above) for the subject and new text."""
    text = text[:20_000].lower()
    subject = subject.lower()
    whole = f"{subject}\n{text}"
    out: set[str] = set()
    # Cues that only depend on being present are looked for once in the whole text...
    for name, pattern in _REMIT:
        if pattern.search(whole):
            out.add("lex_s_remit_" + name)
    for name, pattern in (("lex_s_article_ok", _ARTICLE_OK), ("lex_s_review_denied", _REVIEW_DENIED),
                           ("lex_s_prejudice", _PREJUDICE_MORE), ("lex_s_excused", _NOT_AT_READER)):
        if pattern.search(whole if name != "lex_s_excused" else text):
            out.add(name)
    # ...while whom an insult or a threat addresses is decided sentence by sentence,
    # and only when the text holds one at all.
    if any(p.search(whole) for p in (_STRONG_RE, _CONDESCEND, _WEAK_INSULT, _THREAT_MORE)):
        sents = [subject, *sentences(text)] if subject.strip() else sentences(text)
        for sentence in sents:
            out.update(_addressed(sentence))
    return sorted(out)


def _addressed(s: str) -> set[str]:
    """Insult and threat tokens for one sentence, by whom it addresses."""
    out: set[str] = set()
    at_reader = _AT_READER.search(s) is not None
    if _STRONG_RE.search(s) or _CONDESCEND.search(s):
        at_press = _AT_PRESS.search(s) is not None
        if _NOT_AT_READER.search(s):
            out.add("lex_s_insult_excused")
        elif at_reader:
            out.add("lex_s_insult_reader" if not at_press else "lex_s_insult_mixed")
        else:
            out.add("lex_s_insult_press" if at_press else "lex_s_insult_other")
    elif _WEAK_INSULT.search(s) and at_reader and not _AT_PRESS.search(s):
        out.add("lex_s_weak_reader")
    if at_reader and _THREAT_MORE.search(s):
        out.add("lex_s_threat")
    return out


_NON_MEMBER_ANY_CASE = re.compile(_NON_MEMBER.pattern, re.I)


def non_members_named(text: str) -> list[str]:
    """Broadcasters, regulators and non-member titles named in ``text``, as written."""
    return list(dict.fromkeys(m.group(0) for m in _NON_MEMBER_ANY_CASE.finditer(text[:20_000])))
