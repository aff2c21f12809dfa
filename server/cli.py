"""The `kenetic` command: serve, doctor, demo, train, memory, skills, mcp, --version."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from server import __version__


def _configure_logging(verbose: bool) -> None:
    # stdout carries JSON-RPC on stdio: logs must go to stderr
    level = os.environ.get("KENETIC_LOG", "DEBUG" if verbose else "WARNING").upper()
    log_file = os.environ.get("KENETIC_LOG_FILE")
    logging.basicConfig(
        **({"filename": log_file} if log_file else {"stream": sys.stderr}),
        level=getattr(logging, level, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # pygls logs whole messages at INFO and DEBUG: didChange bodies, answers with the developer's
    # code, initialize options. They hold secrets that the store never keeps, so they stay out of
    # the log unless asked for by name (KENETIC_LOG_WIRE=1, for debugging a client)
    if os.environ.get("KENETIC_LOG_WIRE") != "1":
        for name in ("pygls.protocol.json_rpc", "pygls.protocol.language_server"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _serve(args: argparse.Namespace) -> int:
    from server.framing import serve_io, serve_tcp
    from server.setup import create_server

    # past a file-size limit (ulimit -f) a write must fail, not kill the server: the store
    # holds such writes and retries them (memory/store/writer.py)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not port.isdigit():
            print("kenetic serve: --tcp wants HOST:PORT, e.g. 127.0.0.1:2087", file=sys.stderr)
            return 2
        serve_tcp(server, host or "127.0.0.1", int(port))
    else:
        # not pygls's start_io: its reader goes deaf after one badly framed message
        serve_io(server)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kenetic", description="A language server that learns from the developer using it."
    )
    parser.add_argument("--version", action="version", version=f"kenetic {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging to stderr")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--stdio", action="store_true", help="speak LSP on stdin/stdout (default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP port instead")

    doctor = sub.add_parser("doctor", help="check the install, grammars, store and providers")
    doctor.add_argument("--workspace", default=".", help="workspace folder whose store to check")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")

    demo = sub.add_parser("demo", help="replay a bundled editing session through the server")
    demo.add_argument("--json", action="store_true", help="print the result as JSON")
    demo.add_argument("--keep", metavar="DIR", help="use this directory as the demo workspace")

    train = sub.add_parser("train", help="train a workspace's TRM ranker from its outcomes now")
    train.add_argument("--workspace", default=".", help="workspace folder whose store to train")
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    train.add_argument("--min-outcomes", type=int, help="override trm.minOutcomes")
    train.add_argument("--time-budget", type=float, help="override trm.trainTimeBudgetS")

    mcp = sub.add_parser("mcp", help="serve a workspace's memory and skills to agents over MCP")
    mcp.add_argument("--workspace", default=".", help="workspace folder to serve (default: .)")

    sub.add_parser(
        "memory",
        help="store|recall|link|path|stats|export|import against a workspace's memory",
        add_help=False,
    )
    sub.add_parser("skills", help="list|export a workspace's skills (export: codemod rules)",
                   add_help=False)  # fmt: skip

    raw = sys.argv[1:] if argv is None else argv
    if raw and raw[0] == "memory":
        # the memory CLI has its own sub-commands and options
        from server.memory_cli import memory_main

        _configure_logging(False)
        return memory_main(raw[1:])
    if raw and raw[0] == "skills":
        from server.skills_cli import skills_main  # its own sub-commands and options

        _configure_logging(False)
        return skills_main(raw[1:])
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if args.command in (None, "serve"):
        if args.command is None:
            args.tcp = None
        return _serve(args)
    if args.command == "doctor":
        from server.doctor import run_doctor

        return run_doctor(args.workspace, as_json=args.json)
    if args.command == "train":
        from server.train_cli import run_train

        return run_train(
            args.workspace,
            as_json=args.json,
            min_outcomes=args.min_outcomes,
            time_budget_s=args.time_budget,
        )
    if args.command == "mcp":
        try:
            from server.mcp.app import run_mcp
        except ModuleNotFoundError as exc:  # the `agent` extra brings the mcp SDK
            print(f"kenetic mcp: {exc}; install kenetic[agent]", file=sys.stderr)
            return 1
        return run_mcp(args.workspace)
    if args.command == "demo":
        from server.demo import run_demo

        return run_demo(as_json=args.json, keep=args.keep)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
