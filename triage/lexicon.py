"""Word lists that turn what a message says into signal tokens for the classifier.

Each list gathers many ways of saying one thing (an insult aimed at staff, a
threat, a request to look at a decision again, a broadcaster, a delivery
problem...) into one token, so the model learns the idea from a few examples
and recognises wordings it has never seen. Only the sender's own new text is
scanned: quoted and forwarded material belongs to someone else.
"""

from __future__ import annotations

import re

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
    re.I,
)
_INSULT_RE = re.compile(rf"\b({_INSULT})\b", re.I)
_THREAT = re.compile(
    r"where you live|find (out )?where|your (home|house|address|family|kids|children|wife|husband)|"
    r"(come|turn up|coming|visit|waiting|wait) (down )?(to|at|outside|for you at|round to)( your| the)? "
    r"(office|building|door|reception|home)|outside your (office|building|door|home)|"
    r"(you|you'll|you will|u will) (regret|be sorry|pay for)|watch your back|i know people|"
    r"(hurt|kill|burn|smash|torch|sort (you|them) out)|consequences for you|something (bad )?"
    r"(to )?happen(s)? to|wrong hands|long memor(y|ies)|dox\w*|(post|publish|share|put) (your|their|"
    r"staff|the officer'?s?) (names?|details|address|photos?)|online for everyone|"
    r"i will (find|come|make you)|you have been warned|last warning|be afraid|not (be )?safe",
    re.I,
)
_DISCRIMINATION = re.compile(
    r"p\*+ki|typical (woman|women|female)|speak (proper )?english|go back to (your|where)|"
    r"your (sort|kind|people)|foreigners?|immigrants? like you|(stupid|silly) (girl|woman|little)|"
    r"love\b.{0,20}\bdear|sweetheart|darling|your accent|headscarf|pronouns|woke|"
    r"(jew|muslim|catholic|gay|trans)\w* (lover|loving|agenda)",
    re.I,
)
_HARASS = re.compile(
    r"\b(\d+|tenth|twelfth|fifteenth|twentieth)(st|nd|rd|th)? (e-?mail|message|time|call)s? "
    r"(today|this (week|morning))|every (hour|day|ten minutes|\d+ minutes)|(ring|call|email|e-mail) "
    r"(you )?(every|again and again|until)|i will keep|until (someone|you) (answers?|replies?|responds?)|"
    r"within the hour|by (close of business|5pm|noon) today|i demand|i insist|copied to|cc'?d? (in )?"
    r"(every|all)|sack(ed)?|fire (her|him|them|the officer)|disciplin\w+",
    re.I,
)
_REVIEW = re.compile(
    r"\breview\b|\bappeal\w*|re-?consider\w*|look (at (this|it|my complaint) )?again|re-?examin\w+|"
    r"escalat\w+|challeng\w+|overturn\w*|(dis)?agree with (your|the|this) (decision|outcome|ruling|finding)|"
    r"(do not|don't|cannot|can't|won't) accept (your|the|this) (decision|outcome|ruling|finding|view)|"
    r"decision (is|was) (wrong|flawed|unfair|perverse|incorrect|mistaken)|flawed|complaints reviewer|"
    r"take (this|it|my complaint|the matter) further|someone (more )?senior|(above|over) (you|your head)|"
    r"(your|the) (officer|decision|committee) (got it wrong|was wrong|failed)|re-?open\w*|second look",
    re.I,
)
_NON_MEMBER = re.compile(
    r"\b(guardian|observer|financial times|the ft|private eye|byline|the canary|novara|bbc|itv|"
    r"channel (4|5|four|five)|sky news|gb ?news|lbc|talk ?tv|talksport|times radio|radio \d|radio|"
    r"television|tv|programme|presenter|broadcast\w*|ofcom|podcast\w*|netflix|youtube|"
    r"documentary|episode|impress)\b",
    re.I,
)
_ADVERT = re.compile(r"\b(advert\w*|advertis\w+|\bads?\b|asa|sponsored|promotion|promoted|"
                     r"advertorial|commercial)\b", re.I)
_SOCIAL = re.compile(r"\b(facebook|twitter|tweet\w*|x\.com|instagram|tiktok|snapchat|reddit|"
                     r"whatsapp|nextdoor|influencer|social media post|my neighbour'?s? post)\b", re.I)
_CUSTOMER = re.compile(
    r"\b(deliver(y|ed|ies)|paper ?(boy|girl|round)|newsagent|subscri\w+|cancel\w*|refund\w*|"
    r"billing|billed|direct debit|charged|renewal|competition|prize|voucher|puzzle|crossword|"
    r"sudoku|paywall|app (crash|keeps)|customer (service|services)|price (rise|increase))\b",
    re.I,
)
_OTHER_BODY = re.compile(
    r"\b(council|councillors?|police|constable|nhs|hospital|gp|landlord|employer|my boss|"
    r"energy (company|supplier)|airline|bank|dwp|benefits|housing association|ombudsman|"
    r"neighbours?|school|tribunal|court case|sue|suing|legal advice|lawsuit|injunction|libel|"
    r"defamation|compensation)\b",
    re.I,
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
    re.I,
)
_FOLLOWUP_VOICE = re.compile(
    r"\b(my complaint|my case|any (update|news|progress)|an update|still waiting|as (you )?requested|"
    r"you asked|please find attached|further to|following up|i enclose|here (is|are) the|"
    r"i accept|happy with the (offer|correction|wording)|not happy with the (offer|paper|response)|"
    r"withdraw\w*|no longer wish|their (response|reply|offer)|the paper'?s (response|reply|offer)|"
    r"they (replied|responded|offered|sent)|my reference|case (number|ref))\b",
    re.I,
)
_NEW_VOICE = re.compile(
    r"\b(i (wish|want|would like) to (make a )?complain\w*|make a complaint|formal complaint|"
    r"(the|this|an|your) (article|headline|story|piece|report|photo\w*|picture|image|caption|"
    r"front page|column)|published|printed|online (article|version)|breach\w*|clause \d+|"
    r"editors'? code|inaccura\w+|misleading|misrepresent\w*|intrusi\w+|privacy|harass\w+ by|"
    r"(reporter|journalist|photographer)s? (came|knocked|turned up|doorstep\w*|approached))\b",
    re.I,
)
_AUTOMATED = re.compile(
    r"\b(out of (the )?office|away from (the office|my desk)|annual leave|on leave|return(ing)? on|"
    r"back (in the office )?on|limited access to (email|e-mail)|no longer (work|with|at)|"
    r"not (being )?monitored|do not reply|no-?reply|automated|automatic(ally)?|auto-?reply|"
    r"delivery (has )?failed|undeliver\w+|could not be delivered|mailbox (is )?(full|unavailable)|"
    r"ticket|request (number|#)|unsubscribe|newsletter|webinar|password|verification code|"
    r"security code|confirm (your|that you)|this is an automated|do not respond|sent automatically)\b",
    re.I,
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
    ("lex_newvoice", _NEW_VOICE),
    ("lex_automated", _AUTOMATED),
)


def lexicon_tokens(text: str) -> list[str]:
    """Signal tokens for ``text``: one per matching list, a second ('_many')
    when the list matches three or more times, and ``lex_insult_directed``
    for an insult aimed at the reader."""
    text = text[:8_000]
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


def non_members_named(text: str) -> list[str]:
    """Broadcasters, regulators and non-member titles named in ``text``, as written."""
    return list(dict.fromkeys(m.group(0) for m in _NON_MEMBER.finditer(text[:20_000])))
