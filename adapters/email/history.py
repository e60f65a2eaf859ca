"""What is new in a mail, and what is quoted history or signature, by mail-parser-reply.

The library knows the reply headers of a dozen languages; Turkish is added here in its own terms
(Gmail's "… tarihinde … şunu yazdı:", Outlook's "Kimden: … Gönderildi: …", the usual sign-offs),
so a Turkish customer's quoted history folds away like an English one.
"""

from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES, QUOTED_MATCH_INCLUDE

# Sign-offs only when they stand alone on their line: "Teşekkürler, kargo geldi." is a message,
# "Teşekkürler," followed by a name is a signature.
_ALONE = r",?[ \t]*$"
MAIL_LANGUAGES.setdefault("tr", {
    "wrote_header": r"^(" + QUOTED_MATCH_INCLUDE + r".+?\starihinde\s(?:.+?\s)?(?:şunu\s)?yazdı:)$",
    "from_header": r"((?:(?:^|\n|\n" + QUOTED_MATCH_INCLUDE
                   + r")[* ]*(?:Kimden|Gönderildi|Gönderilen|Gönderme Tarihi|Kime|Konu|Tarih|Bilgi|Bilgi için)"
                     r":[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})",
    "disclaimers": [r"Yasal Uyarı:", r"Gizlilik Uyarısı:"],
    "signatures": [rf"Saygılarımla{_ALONE}", rf"Saygılarımızla{_ALONE}", rf"Saygılar{_ALONE}",
                   rf"İyi çalışmalar{_ALONE}", rf"Teşekkürler{_ALONE}", rf"Teşekkür ederim{_ALONE}",
                   rf"Sevgiler{_ALONE}", rf"Selamlar{_ALONE}"],
    "sent_from": r"iPhone'umdan gönderildi|Android için Outlook'u edinin|Samsung Galaxy cihazımdan gönderildi",
})
# Turkish shoppers, English and German clients (Gmail and Outlook set the header language).
_PARSER = EmailReplyParser(languages=["tr", "en", "de"])


def split(text: str) -> tuple[str, bool]:
    """The mail's newest part without its quoted history or signature, and whether anything was folded.

    When the library finds nothing new (a reply that is all quote, a forwarded mail), the text is
    shown whole: folding must never hide the only thing a customer wrote.
    """
    if not text.strip():
        return "", False
    replies = _PARSER.read(text).replies
    newest = replies[0].body if replies else ""
    if not newest.strip():
        return text.strip(), False
    whole = "\n".join(line.strip() for line in text.strip().splitlines())
    return newest, newest != whole
