#!/usr/bin/env python3
"""Independent count of messages containing words and phrases, over raw mbox files.

Shares no code with quarry: Python's own email parser, and a word = a run of letters and
digits, compared case-insensitively with accents removed. A message counts when a term occurs
in its sender (From, and the X-From display name), recipients (To, Cc, Bcc), Date, Subject or
body text: what a reader sees of the message.

usage: mbox_term_counts.py MBOX_DIR TERM... -> one "count<TAB>term" line per term
"""
import email
import email.policy
import os
import re
import sys
import unicodedata

WORD = re.compile(r"[^\W_]+")


def words(text):
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return [w.lower() for w in WORD.findall(folded)]


def message_text(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    parts = []
    for name in ("From", "X-From", "To", "Cc", "Bcc", "Date", "Subject"):
        for value in msg.get_all(name) or []:
            parts.append(str(value))
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "latin-1"
        try:
            parts.append(payload.decode(charset, errors="replace"))
        except LookupError:
            parts.append(payload.decode("latin-1"))
    return " ".join(parts)


def messages(path):
    with open(path, "rb") as f:
        data = f.read()
    for chunk in re.split(rb"(?m)^From MAILER-DAEMON [^\n]*\n", data):
        if chunk.strip():
            yield chunk


def contains(tokens, phrase):
    n = len(phrase)
    first = phrase[0]
    for i, t in enumerate(tokens):
        if t == first and tokens[i : i + n] == phrase:
            return True
    return False


def main():
    folder, terms = sys.argv[1], sys.argv[2:]
    phrases = [words(t) for t in terms]
    counts = [0] * len(terms)
    for name in sorted(os.listdir(folder)):
        for raw in messages(os.path.join(folder, name)):
            tokens = words(message_text(raw))
            present = set(tokens)
            for i, phrase in enumerate(phrases):
                if phrase[0] in present and contains(tokens, phrase):
                    counts[i] += 1
    for term, count in zip(terms, counts):
        print(f"{count}\t{term}")


if __name__ == "__main__":
    main()
