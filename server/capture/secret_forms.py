"""Secret forms detect-secrets does not know: shell and CLI forms, and newer provider keys.

detect-secrets' plugins read source code: a keyword needs a quoted value, a URL password may
not hold `&` or `!`, and its provider list predates `sk-proj-` keys. Command lines (and the
shell scripts and strings in code that hold them) put secrets elsewhere: unquoted environment
assignments (`export AWS_SECRET_ACCESS_KEY=…`, `PGPASSWORD=… psql`), password flags
(`mysql -p…`, `--password …`, `curl -u user:pw`), `Authorization:` headers, URLs with a
password. Each rule here names the span of the secret itself, so what surrounds it (the
variable, the flag, the host) stays for mining to learn from.
"""

from __future__ import annotations

import re

# words that make a variable, flag or header name secret-looking
_SECRET_WORD = (
    r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|secret[_-]?key|client[_-]?secret|auth|credentials?|session[_-]?key)"
)
# one shell word: unquoted (up to whitespace or an operator) or quoted
_WORD = r"(?:'[^'\n]*'|\"[^\"\n]*\"|[^\s'\"`;&|<>()]+)"

# NAME=value with no spaces around `=` (shell), the name secret-looking. A value must be a whole
# shell word (followed by a space, an operator or the end): `connect(password=pw)` is code, not
# an assignment. Lower-case names whose value is a plain identifier are code too (`password=pw`).
_ASSIGNMENT = re.compile(
    r"(?:^|(?<=[\s;&|(`]))(?P<export>(?:export|declare[ \t]+-x|env)[ \t]+)?"
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*" + _SECRET_WORD + r"[A-Za-z0-9_]*)"
    r"=(?P<value>" + _WORD + r")(?<!,)(?=$|[\s;&|)`])",
    re.IGNORECASE | re.MULTILINE,
)
_KEYLIKE = re.compile(r"(?=[^\s]*\d)[A-Za-z0-9_+/=.~-]{8,}")
_NUMBER = re.compile(r"[0-9][0-9_.]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
# --password=value, --password value, --api-key value, --token=value (not --no-password)
_LONG_FLAG = re.compile(
    r"(?:^|(?<=[\s'\"]))--(?!no-)(?![A-Za-z0-9-]*-(?:stdin|file|env|command)\b)[A-Za-z0-9-]*"
    + _SECRET_WORD
    + r"[A-Za-z0-9-]*(?:=|[ \t]+)"
    r"(?P<value>(?!-)" + _WORD + r")",
    re.IGNORECASE | re.MULTILINE,
)
# short flags whose value is a password for the tool that reads them
_TOOL_FLAGS = [
    # mysql -pSECRET (attached: `-p SECRET` would ask, and `-p` alone prompts)
    (r"\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb\S*)\b", r"-p"),
    (r"\bsshpass\b", r"-p[ \t]*"),
    (r"\bredis-cli\b", r"-a[ \t]+"),
    (r"\b(?:docker|podman|helm|buildah|skopeo|oras)\b[^\n;|&]{0,40}?\blogin\b", r"-p[ \t]+"),
]
_TOOL_FLAG_RULES = [
    re.compile(
        # the flag within a few words of the tool: the scan stays linear on a long line
        tool + r"[^\n;|&]{0,200}?(?<=[\s'\"])" + flag + r"(?P<value>(?!-)" + _WORD + r")",
        re.MULTILINE,
    )
    for tool, flag in _TOOL_FLAGS
]
# curl -u user:password, --user, --proxy-user, wget --http-password handled by _LONG_FLAG
_USER_FLAG = re.compile(
    r"(?:^|(?<=[\s'\"]))(?:-u|-U|--user|--proxy-user)(?:[ \t]+|=|(?=['\"]))"
    r"(?P<q>['\"]?)[^\s:'\"]+:(?P<value>[^\s'\"]+)(?P=q)",
    re.MULTILINE,
)
# scheme://user:password@host: the password may hold any character but the ones that end it
_URL_PASSWORD = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*:(?P<value>[^\s/@'\"]+)@[^\s/@'\"]",
)
# Authorization: Bearer xyz, X-Api-Key: xyz, Private-Token: xyz (headers in curl, http files)
_HEADER = re.compile(
    r"\b(?:authorization|proxy-authorization|x-api-key|api-key|x-auth-token|private-token"
    r"|x-access-token|cookie)[ \t]*:[ \t]*(?P<scheme>(?:bearer|basic|token|digest)[ \t]+)?"
    r"(?P<value>[^\s'\"]+)",
    re.IGNORECASE,
)
# provider keys by their prefix (what detect-secrets 1.5 lacks)
_PROVIDER_KEYS = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<value>"
    r"sk-(?:proj|svcacct|admin|ant-(?:api|admin)\d\d)-[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|sk-[A-Za-z0-9]{32,}"  # older OpenAI and compatible
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|npm_[A-Za-z0-9]{36}"  # npm
    r"|github_pat_[A-Za-z0-9_]{22,}"  # GitHub fine-grained
    r"|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|dop_v1_[a-f0-9]{64}"  # DigitalOcean
    r"|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"  # Shopify
    r"|pypi-[A-Za-z0-9_-]{50,}"
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"  # AWS access key id
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # a JWT, decodable or not
    r")(?![A-Za-z0-9_-])",
)

_RULES = [_LONG_FLAG, *_TOOL_FLAG_RULES, _USER_FLAG, _URL_PASSWORD, _HEADER, _PROVIDER_KEYS]


def _unquoted(value: str) -> tuple[int, int]:
    """Offsets of a shell word's content inside its quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return 1, len(value) - 1
    return 0, len(value)


def spans(text: str) -> list[tuple[int, int]]:
    """The [start, end) spans of secrets in text, in the forms above (may overlap)."""
    found: list[tuple[int, int]] = []
    for match in _ASSIGNMENT.finditer(text):
        value = match.group("value")
        if value.startswith("$") or value.startswith("«"):
            continue  # a reference to another variable, or already redacted
        shell = match.group("export") or match.group("name").isupper()
        if not shell and (_IDENTIFIER.fullmatch(value) or _NUMBER.fullmatch(value)):
            continue  # `password=pw`, `max_tokens=800`: a keyword argument or code (not export)
        a, b = _unquoted(value)
        if b > a:
            found.append((match.start("value") + a, match.start("value") + b))
    for rule in _RULES:
        for match in rule.finditer(text):
            value = match.group("value")
            if value.startswith("$") or "«" in value:
                continue
            if rule is _HEADER and not match.group("scheme") and not _KEYLIKE.search(value):
                continue  # `authorization: Optional[str]`: a type annotation, not a header
            a, b = _unquoted(value)
            if b > a:
                found.append((match.start("value") + a, match.start("value") + b))
    return found
