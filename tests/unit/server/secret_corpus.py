"""A corpus of real-looking secrets, each in the form it takes in code or on a command line.

Every value is made at import time from a seeded generator and split prefixes, so this file
holds no literal a secret scanner in CI would flag, and the values are the same on every run.
Each sample is (name, line, secret): `line` is what the developer types or runs, `secret` the
bytes that must never reach disk.
"""

from __future__ import annotations

import base64
import json
import random
import string
from typing import NamedTuple

_rng = random.Random(16)
UPPER = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"


def r(alphabet: str, n: int) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


def j(*parts: str) -> str:
    """A prefix split in two, so the source never spells it whole."""
    return "".join(parts)


class Sample(NamedTuple):
    name: str
    line: str
    secret: str


def _pem() -> tuple[str, str]:
    body = "\n".join(r(B64, 64) for _ in range(6))
    kind = j("RSA PRI", "VATE KEY")
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----", body


def _b64(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def _jwt() -> str:
    """A well-formed JWT (its parts decode to JSON), as detect-secrets' plugin checks."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}))
    body = _b64(json.dumps({"sub": r(string.digits, 10), "name": r(ALNUM, 12)}))
    return f"{head}.{body}.{r(ALNUM + '-_', 43)}"


def samples() -> list[Sample]:
    aws_id = j("AK", "IA") + r(string.ascii_uppercase + "234567", 16)
    aws_secret = r(B64, 40)
    ghp = j("gh", "p_") + r(ALNUM, 36)
    gh_fine = j("github", "_pat_") + r(ALNUM, 22) + "_" + r(ALNUM, 59)
    glpat = j("gl", "pat-") + r(ALNUM, 20)
    slack = j("xo", "xb-") + f"{r(string.digits, 12)}-{r(string.digits, 13)}-{r(ALNUM, 24)}"
    stripe = j("sk", "_live_") + r(ALNUM, 24)
    openai = j("sk-", "proj-") + r(ALNUM + "_-", 48)
    anthropic = j("sk-", "ant-api03-") + r(ALNUM + "_-", 93)
    google = j("AI", "za") + r(ALNUM + "_-", 35)
    npm = j("np", "m_") + r(ALNUM, 36)
    hf = j("h", "f_") + r(ALNUM, 34)
    sendgrid = j("S", "G.") + r(ALNUM + "_-", 22) + "." + r(ALNUM + "_-", 43)
    twilio = j("S", "K") + r(HEX, 32)
    pypi = j("pypi-AgEIcHlwaS5", "vcmc") + r(ALNUM + "-_", 80)
    jwt = _jwt()
    pem, pem_body = _pem()
    pw_url = r(ALNUM, 6) + "&" + r(ALNUM, 4) + "!" + r(ALNUM, 5)
    pg_pw = r(ALNUM, 14)
    my_pw = r(ALNUM, 12)
    curl_pw = r(ALNUM, 13)
    bearer = r(ALNUM, 32)
    flag_pw = r(ALNUM, 15)
    docker_pw = r(ALNUM, 16)
    sshpass_pw = r(ALNUM, 11)
    redis_pw = r(ALNUM, 18)
    db_pw = r(ALNUM, 17)
    return [
        Sample("aws access key id", f'aws_access_key_id = "{aws_id}"', aws_id),
        Sample("aws secret, quoted", f'aws_secret_access_key = "{aws_secret}"', aws_secret),
        Sample("github token", f'token = "{ghp}"', ghp),
        Sample("github fine-grained token", f'GH_PAT = "{gh_fine}"', gh_fine),
        Sample("gitlab token", f'gitlab = "{glpat}"', glpat),
        Sample("slack token", f'slack = "{slack}"', slack),
        Sample("stripe key", f'stripe.api_key = "{stripe}"', stripe),
        Sample("openai project key", f'client = OpenAI(api_key="{openai}")', openai),
        Sample("anthropic key", f'ANTHROPIC = "{anthropic}"', anthropic),
        Sample("google api key", f'maps = "{google}"', google),
        Sample("npm token", f'npm_token = "{npm}"', npm),
        Sample("hugging face token", f'hf = "{hf}"', hf),
        Sample("sendgrid key", f'sg = "{sendgrid}"', sendgrid),
        Sample("twilio key", f'twilio_sid = "{twilio}"', twilio),
        Sample("pypi token", f'pypi = "{pypi}"', pypi),
        Sample("jwt", f'session = "{jwt}"', jwt),
        Sample("private key block", f'KEY = """\n{pem}\n"""', pem_body),
        Sample(
            "url password with & and !", f"psql 'postgres://app:{pw_url}@db.internal/app'", pw_url
        ),
        Sample(
            "export, unquoted", f"export AWS_SECRET_ACCESS_KEY={aws_secret[::-1]}", aws_secret[::-1]
        ),
        Sample("env prefix", f"PGPASSWORD={pg_pw} psql -h db -U app", pg_pw),
        Sample("mysql -p", f"mysql -u root -p{my_pw} shop", my_pw),
        Sample("curl -u", f"curl -u alice:{curl_pw} https://api.example.com/v1", curl_pw),
        Sample("bearer header", f"curl -H 'Authorization: Bearer {bearer}' https://x.io", bearer),
        Sample("--password=", f"pg_dump --password={flag_pw} app", flag_pw),
        Sample("docker login -p", f"docker login -u bob -p {docker_pw} ghcr.io", docker_pw),
        Sample("sshpass -p", f"sshpass -p '{sshpass_pw}' ssh deploy@host", sshpass_pw),
        Sample("redis-cli -a", f"redis-cli -h cache -a {redis_pw} ping", redis_pw),
        Sample("openai key in env", f"OPENAI_API_KEY={openai[::-1]} python run.py", openai[::-1]),
        Sample("db password, lower case", f"export db_password={db_pw}", db_pw),
    ]


# code that looks near a secret but is none: redaction must leave it as it is
ORDINARY = [
    "def total(items):\n    return sum(item.price for item in items)\n",
    "client = connect(user=user, password=password, timeout=3)\n",
    "resp = llm.complete(prompt, max_tokens=800,\n",
    "def login(authorization: Optional[str] = None) -> None:\n",
    "token = request.headers.get('token')\n",
    "psql --no-password -h db -U app\n",
    "docker login --password-stdin ghcr.io\n",
    "export PATH=$HOME/bin:$PATH\n",
    "export GITHUB_TOKEN=$(gh auth token)\n",
]
