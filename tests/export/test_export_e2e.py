"""Export Skill as Rule end to end: a skill taught through the real server, exported by the
kenetic.exportSkill workspace command and by `kenetic skills export`, and the written files run by
the real ast-grep (its tests, and the rule applied to the workspace's code)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from memory.export import check
from server.cli import main
from tests.e2e.conftest import home, lsp_session, request, wait_idle, workspace  # noqa: F401
from tests.e2e.test_skills_e2e import FAST, SOURCE, Doc, execute, learn

AST_GREP = check.ast_grep()
pytestmark = pytest.mark.skipif(AST_GREP is None, reason="ast-grep-cli (dev extra) missing")
WANT = SOURCE.replace("print(", "logger.info(")


@pytest.fixture(autouse=True)
def _own_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # the command line finds the store where the server (conftest.server_env) put it
    monkeypatch.delenv("KENETIC_HOME", raising=False)


def apply_rule(rule: Path, tmp: Path) -> str:
    """The workspace's code as it was taught, with the rule applied to every place."""
    assert AST_GREP is not None
    code = tmp / "code"
    code.mkdir(parents=True)
    (code / "app.py").write_text(SOURCE)
    check.ast_grep_apply(rule, code, AST_GREP)
    return (code / "app.py").read_text()


async def test_export_skill_command_writes_rules_ast_grep_runs(
    workspace: Path,  # noqa: F811
    home: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    assert AST_GREP is not None
    path = workspace / "app.py"
    path.write_text(SOURCE)
    async with lsp_session([workspace], home, init_options=FAST) as client:
        await learn(client, Doc(client, path.as_uri(), SOURCE))
        skills = (await request(client, "kenetic/skills", {}))["skills"]
        sid = skills[0]["id"]
        result = await execute(client, "kenetic.exportSkill", {"skillId": sid})
        rules = workspace / ".kenetic" / "rules"
        rule = rules / "rules" / f"kenetic-{sid}.yml"
        test = rules / "rule-tests" / f"kenetic-{sid}-test.yml"
        assert result["skill"]["verdict"] in ("exact", "approximated")
        assert result["skill"]["rule"] == str(rule)
        assert sorted(result["written"]) == sorted(
            [str(rules / "sgconfig.yml"), str(rule), str(test)]
        )
        # the examples' code (from the store's episodes) is the test: it must fire there
        assert "logger.info" in test.read_text() and "print(v0)" in test.read_text()
        passed, output = check.ast_grep_test(rules, AST_GREP)
        assert passed, output
        assert apply_rule(rule, tmp_path) == WANT

        # a folder the user picked, relative to the workspace; semgrep's format too
        picked = await execute(
            client, "kenetic.exportSkill", {"skillId": sid, "format": "semgrep", "dir": "ci"}
        )
        assert picked["skill"]["rule"] == str(workspace / "ci" / "semgrep" / f"kenetic-{sid}.yaml")
        assert (workspace / "ci" / "semgrep" / f"kenetic-{sid}.yaml").exists()

        with pytest.raises(JsonRpcInvalidParams, match="no skill 'sk_nope'"):
            await execute(client, "kenetic.exportSkill", {"skillId": "sk_nope"})
        with pytest.raises(JsonRpcInvalidParams):
            await execute(client, "kenetic.exportSkill", {"skillId": sid, "format": "eslint"})
        await wait_idle(client)

    # the command line reads the same store once the server is gone
    out = tmp_path / "cli-rules"
    shutil.rmtree(rules)
    assert main(["skills", "export", "--format", "ast-grep", "--workspace", str(workspace),
                 "--out", str(out)]) == 0  # fmt: skip
    passed, output = check.ast_grep_test(out, AST_GREP)
    assert passed, output
    assert apply_rule(out / "rules" / f"kenetic-{sid}.yml", tmp_path / "again") == WANT


def test_cli_lists_and_refuses_clearly(
    workspace: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["skills", "list", "--workspace", str(workspace)]) == 1
    assert "no kenetic store" in capsys.readouterr().err
    assert main(["skills", "export", "--format", "ast-grep", "--workspace",
                 str(workspace / "missing")]) == 1  # fmt: skip
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["skills", "export", "--format", "eslint", "--workspace", str(workspace)])
    assert exc.value.code == 2


async def test_cli_export_of_an_unknown_skill_writes_nothing(
    workspace: Path,  # noqa: F811
    home: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    async with lsp_session([workspace], home, init_options=FAST) as client:
        await learn(client, Doc(client, path.as_uri(), SOURCE))
    assert main(["skills", "list", "--workspace", str(workspace), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["skills"]
    assert [s["before"] for s in listed] == ["print($h0)"]
    out = workspace / "out"
    assert main(["skills", "export", "--format", "ast-grep", "--workspace", str(workspace),
                 "--out", str(out), "--skill", "sk_missing"]) == 1  # fmt: skip
    assert "no skill 'sk_missing'" in capsys.readouterr().err
    assert not out.exists()
