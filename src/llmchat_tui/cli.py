"""Command line: parse flags, load settings, open the store, run the app."""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.handlers
import os
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmchat_tui import __version__, paths
from llmchat_tui.logs import setup_logging

if TYPE_CHECKING:
    from llmchat_tui.config import Settings
    from llmchat_tui.store import Store

#: The subcommands, in the order ``--help`` lists them: (name, arguments, what it does).
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("ask", "[PROMPT…]", "ask once and stream the reply to stdout (piped stdin is read too)"),
    ("list", "", "saved conversations, newest first: ID<TAB>UPDATED<TAB>TITLE"),
    (
        "export",
        "ID|--last [--format md|json] [-o FILE]",
        "print (or write to FILE) a conversation as Markdown or JSON",
    ),
    ("import", "FILE", "import a ChatGPT data export (conversations.json or its zip)"),
    (
        "trash",
        "[restore ID]",
        "deleted conversations and messages: ID<TAB>DELETED<TAB>TITLE, "
        "or put one back (kept 30 days)",
    ),
    ("paths", "", "where the config file, conversations and log file are"),
    ("completion", "bash|zsh|fish", "print a shell completion script (see the README)"),
)
SUBCOMMANDS = tuple(name for name, _args, _what in COMMANDS)

#: Exit statuses, as ``--help`` and the README state them.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _commands_text() -> str:
    lines = []
    for name, arguments, what in COMMANDS:
        head = f"  {name} {arguments}".rstrip()
        text = textwrap.wrap(what, 79 - 29)
        if len(head) <= 27:
            lines.append(f"{head:<29}{text[0]}")
        else:
            lines.extend([head, f"{'':<29}{text[0]}"])
        lines.extend(f"{'':<29}{more}" for more in text[1:])
    return "\n".join(lines)


EPILOG = f"""\
commands (without one, the chat app starts; see llmchat-tui COMMAND --help):
{_commands_text()}

The options above work before or after a command (llmchat-tui --model x list,
llmchat-tui list --data-dir D).

examples:
  OPENAI_API_KEY=sk-... llmchat-tui
  llmchat-tui --base-url http://localhost:11434/v1 --model llama3.2     # Ollama
  llmchat-tui --base-url http://127.0.0.1:8080/v1 --model local         # llama.cpp server
  llmchat-tui --config ~/my-llmchat.toml --data-dir /tmp/scratch-chats
  git diff | llmchat-tui ask "review this"
  llmchat-tui ask -c "and in Rust?"                                     # follow up
  llmchat-tui list | head -5
  llmchat-tui export --last -o chat.md
  llmchat-tui export 01JABCDEFGHJKMNPQRSTVWXYZ0 --format json > chat.json
  llmchat-tui import ~/Downloads/chatgpt-export.zip
  llmchat-tui trash restore 01JABC
  llmchat-tui --profile ollama                                          # a [profiles.ollama] table
  llmchat-tui paths
  source <(llmchat-tui completion bash)

exit status: 0 done; 1 failed (a request, a conversation or file that is not
there or cannot be read, a data folder in use or not writable); 2 usage error
(bad arguments, a broken config file, an unknown profile); 130 interrupted
(Ctrl+C).

keys: Enter sends (or queues while a reply streams), Ctrl+J or Alt+Enter adds a
line, Esc stops a reply, Ctrl+N new chat, Ctrl+F filter, Ctrl+B sidebar/prompt,
F9 sidebar on/off, F1 all keys, Ctrl+Q quits.
"""


def add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command accepts, before or after its name.

    On the subcommands (``top=False``) they default to "not given", so a value
    given before the command is kept unless the same option follows it.
    """
    default: Any = None if top else argparse.SUPPRESS
    group = parser.add_argument_group("options for every command") if not top else parser
    group.add_argument(
        "--model", "-m", help="model name (env LLMCHAT_MODEL; default gpt-4o-mini)", default=default
    )
    group.add_argument(
        "--base-url",
        help="API base URL, e.g. http://localhost:11434/v1 "
        "(env OPENAI_BASE_URL unless --profile is given; default https://api.openai.com/v1); "
        "a key is sent only to the URL it belongs to (see the README)",
        default=default,
    )
    group.add_argument(
        "--config",
        type=Path,
        help=f"config file (env LLMCHAT_CONFIG; default {paths.default_config_file()})",
        default=default,
    )
    group.add_argument(
        "--data-dir",
        type=Path,
        help=f"folder for saved conversations (env LLMCHAT_DATA_DIR; default {paths.data_dir()})",
        default=default,
    )
    group.add_argument(
        "--profile",
        "-p",
        help="provider profile from the config file's [profiles] tables",
        default=default,
    )
    group.add_argument(
        "--tee",
        type=Path,
        metavar="FILE",
        help="append every reply to FILE as it streams",
        default=default,
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options, then an optional subcommand."""
    parser = argparse.ArgumentParser(
        prog="llmchat-tui",
        usage=(f"%(prog)s [-h] [--version] [OPTIONS] [{{{','.join(SUBCOMMANDS)}}} [ARGS ...]]"),
        description="A full-screen terminal chat client for OpenAI-compatible LLM servers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"llmchat-tui {__version__}")
    add_global_options(parser, top=True)
    parser.add_argument(
        "--compare",
        metavar="MODEL,MODEL[,...]",
        help="start with a new chat whose messages go to 2-4 models at once, side by side "
        "(each [PROFILE:]MODEL); keep one reply to go on with it",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS)
    for name, _arguments, what in COMMANDS:
        sub = commands.add_parser(
            name,
            prog=f"llmchat-tui {name}",
            help=what,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_command_arguments(name, sub)
        add_global_options(sub, top=False)
    return parser


def add_command_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of subcommand ``name``."""
    if name == "list":
        parser.description = (
            "Print saved conversations, newest first, one per line: "
            "ID<TAB>UPDATED (UTC, ISO 8601)<TAB>TITLE."
        )
    elif name == "export":
        parser.description = (
            "Print a saved conversation as Markdown (default) or JSON. "
            "Exits 1 if it is not there or cannot be read."
        )
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("id", nargs="?", help="conversation id (or a unique prefix of one)")
        which.add_argument("--last", action="store_true", help="the most recently updated one")
        parser.add_argument("--format", "-f", choices=("md", "json"), default="md")
        parser.add_argument(
            "-o", "--output", type=Path, help="write to FILE (mode 0600) instead of stdout"
        )
    elif name == "paths":
        parser.description = "Show where llmchat-tui keeps its config, conversations and log."
    elif name == "trash":
        parser.description = (
            "List deleted conversations and messages, most recent first, one per line: "
            "ID<TAB>DELETED (UTC, ISO 8601)<TAB>TITLE; or restore one. Entries are kept "
            "30 days. Exits 1 if the restore fails."
        )
        parser.add_argument("action", nargs="?", choices=("list", "restore"), default="list")
        parser.add_argument("id", nargs="?", help="entry id (or a unique prefix of one)")
    elif name == "import":
        parser.description = (
            "Import a ChatGPT data export: conversations.json, the zip ChatGPT sends, or the "
            "folder it unpacks to. Conversations imported before are skipped. "
            "Exits 1 if the file cannot be read."
        )
        parser.add_argument("file", type=Path)
    elif name == "completion":
        parser.description = "Print a completion script for SHELL."
        parser.epilog = completion_help()
        parser.add_argument("shell", choices=("bash", "zsh", "fish"))
    elif name == "ask":
        from llmchat_tui.ask import add_arguments

        add_arguments(parser)


def completion_help() -> str:
    return (
        "install:\n"
        "  bash  echo 'source <(llmchat-tui completion bash)' >> ~/.bashrc\n"
        "  zsh   echo 'source <(llmchat-tui completion zsh)' >> ~/.zshrc\n"
        "  fish  llmchat-tui completion fish > ~/.config/fish/completions/llmchat-tui.fish\n"
    )


def fail(message: str) -> int:
    """Say what failed at run time (one line on stderr); exit status 1."""
    print(f"llmchat-tui: {message}", file=sys.stderr)
    return EXIT_FAILED


def usage_error(message: str) -> int:
    """A configuration the command cannot use (a broken file, an unknown profile): 2."""
    print(f"llmchat-tui: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``llmchat-tui`` command; returns the exit status.

    0 done, 1 a runtime failure, 2 a usage error (argparse exits with it
    itself), 130 interrupted by Ctrl+C (SIGINT).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command is not None:
            return run_subcommand(args.command, args)
        return run_app(args)
    except KeyboardInterrupt:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write("\n")
        return EXIT_INTERRUPTED


def run_app(args: argparse.Namespace) -> int:
    """The full-screen chat app."""
    from llmchat_tui.config import ConfigError, config_file_exposes_key
    from llmchat_tui.config_load import load_settings
    from llmchat_tui.config_target import resolve_target

    flags = {
        "model": args.model,
        "base_url": args.base_url,
        "data_dir": str(args.data_dir) if args.data_dir else None,
        "profile": args.profile,
        "tee_file": str(args.tee) if args.tee else None,
    }
    try:
        settings = load_settings(flags=flags, config_path=args.config)
        target = resolve_target(settings)
    except ConfigError as error:
        return usage_error(str(error))
    warnings = []
    holds_key = bool(settings.api_key) or any(
        profile.get("api_key") for profile in settings.profiles.values()
    )
    if holds_key and settings.config_file and config_file_exposes_key(settings.config_file):
        warnings.append(
            f"{settings.config_file} holds an API key and other users can read it: "
            f"chmod 600 it, or use api_key_command."
        )
    compared: list[str] | None = None
    if args.compare:
        from llmchat_tui.compare import CompareError, parse_models

        try:
            compared = [r.label for r in parse_models(args.compare, settings.profiles)]
        except CompareError as error:
            return usage_error(f"--compare: {error}")
    setup_logging(target.api_key)

    from llmchat_tui.store import Store, StoreError, StoreLocked

    data_dir = Path(settings.data_dir).expanduser() if settings.data_dir else paths.data_dir()
    store = Store(data_dir)
    try:
        store.acquire_lock()
    except StoreLocked as error:
        return fail(str(error))
    except (OSError, StoreError) as error:
        return fail(f"cannot use data folder {data_dir}: {error}")
    try:
        try:
            # Files index.json does not vouch for are read after the first
            # frame, in a thread (ChatApp._read_pending).
            skipped = store.open(defer=True)
        except (OSError, StoreError) as error:
            return fail(f"cannot read data folder {data_dir}: {error}")
        for item in skipped:
            logging.getLogger("llmchat_tui").warning("skipped %s: %s", item.path, item.reason)
        try:
            for gone in store.purge_trash():
                logging.getLogger("llmchat_tui").info("purged from the trash: %s", gone.id)
        except StoreError as error:
            logging.getLogger("llmchat_tui").warning("could not purge the trash: %s", error)

        from llmchat_tui.factory import build_app

        try:
            app = build_app(settings, store, skipped=skipped, warnings=warnings, compare=compared)
        except ConfigError as error:
            return usage_error(str(error))
        result = app.run()
        unsaved = app.session.unsaved
        for conversation_id, reason in unsaved.items():
            conversation = app.session.conversations.get(conversation_id)
            title = conversation.title if conversation is not None else conversation_id
            print(
                f"llmchat-tui: “{title}” could not be saved in {data_dir}: {reason}",
                file=sys.stderr,
            )
        if app.return_code:
            return app.return_code
        if unsaved:
            return 1
        return result if isinstance(result, int) else 0
    finally:
        store.close()


# ---------------------------------------------------------------------------
# Subcommands: list, export, import, trash, paths (no Textual; the store is used
# read-only except by import and trash restore, which take the data folder's lock),
# ask (llmchat_tui.ask) and completion (llmchat_tui.completion)
# ---------------------------------------------------------------------------


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``name`` (for its own usage errors)."""
    commands = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    parser: argparse.ArgumentParser = commands.choices[name]
    return parser


def run_subcommand(name: str, args: argparse.Namespace) -> int:
    """Run ``llmchat-tui NAME`` with its parsed arguments ``args``."""
    if name == "trash" and (args.action == "restore") != (args.id is not None):
        command_parser(name).error("give an ID with restore, and only with restore")
    if name == "completion":
        from llmchat_tui.completion import script

        sys.stdout.write(script(args.shell, build_parser()))
        return EXIT_OK
    if name == "ask":
        from llmchat_tui.ask import run_ask

        return run_ask(args, command_parser(name))

    from llmchat_tui.config import ConfigError
    from llmchat_tui.config_load import load_settings
    from llmchat_tui.sanitize import clean_line
    from llmchat_tui.store import Store, StoreError

    flags = {"data_dir": str(args.data_dir) if args.data_dir else None}
    try:
        settings = load_settings(flags=flags, config_path=args.config)
    except ConfigError as error:
        return usage_error(str(error))
    data_dir = Path(settings.data_dir).expanduser() if settings.data_dir else paths.data_dir()
    store = Store(data_dir)
    try:
        if name == "paths":
            return _paths(settings, data_dir)
        if name == "list":
            return _list(store)
        if name == "export":
            return _export(store, args)
        if name == "trash":
            return _trash(store, args.id)
        return _import(store, args.file)
    except BrokenPipeError:  # e.g. `llmchat-tui list | head -1`
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, StoreError) as error:
        return fail(clean_line(str(error)))
    finally:
        store.close()


def _paths(settings: Settings, data_dir: Path) -> int:
    config = settings.config_file or paths.default_config_file()
    state = "" if config.exists() else "  (not created yet)"
    print(f"config file    {config}{state}")
    print(f"conversations  {data_dir / 'conversations'}")
    print(f"log file       {paths.log_file()}")
    print(f"token cache    {paths.cache_dir() / 'tiktoken'}")
    return 0


def _has_conversations(store: Store) -> bool:
    # Listing or exporting from a folder that does not exist must not create it.
    return store.conversations_dir.is_dir()


def _list(store: Store) -> int:
    from llmchat_tui.exporting import iso_seconds
    from llmchat_tui.sanitize import clean_line

    if _has_conversations(store):
        for row in store.summaries():
            print(f"{row.id}\t{iso_seconds(row.updated_at)}\t{clean_line(row.title)}")
    return 0


def _export(store: Store, args: argparse.Namespace) -> int:
    from llmchat_tui.exporting import render
    from llmchat_tui.sanitize import clean_line
    from llmchat_tui.store import StoreError, atomic_write_bytes

    rows = store.summaries() if _has_conversations(store) else []
    if args.last:
        if not rows:
            return fail(f"no saved conversations in {store.data_dir}")
        conv_id = rows[0].id
    else:
        conv_id = args.id
        try:
            on_disk = store.path_for(conv_id).exists()  # an unreadable file: load says why
        except StoreError:
            on_disk = False
        if not on_disk:
            matches = [row.id for row in rows if conv_id and row.id.startswith(conv_id)]
            if len(matches) > 1:
                return fail(f"ambiguous id {clean_line(conv_id)}: {len(matches)} conversations")
            if not matches:
                return fail(f"no saved conversation {clean_line(conv_id)} (see llmchat-tui list)")
            conv_id = matches[0]
    text = render(store.load(conv_id), args.format)
    if args.output is None or str(args.output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    try:
        atomic_write_bytes(args.output, text.encode("utf-8"), 0o600)
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}")
    print(f"exported to {args.output}", file=sys.stderr)
    return 0


def _import(store: Store, path: Path) -> int:
    from llmchat_tui.importing import ImportFileError, import_chatgpt
    from llmchat_tui.sanitize import clean_line

    try:
        report = import_chatgpt(store, path)
    except ImportFileError as error:
        return fail(clean_line(str(error)))
    for reason in report.unreadable:
        print(f"llmchat-tui: unreadable {reason}", file=sys.stderr)
    print(report.summary())
    return 0


def _trash(store: Store, entry_id: str | None) -> int:
    """List the trash, or restore ``entry_id`` under the data folder's lock; 1 on failure."""
    from llmchat_tui.exporting import iso_seconds
    from llmchat_tui.sanitize import clean_line
    from llmchat_tui.store import StoreError

    try:
        if entry_id is None:
            for entry in store.trashed():
                deleted = iso_seconds(entry.deleted_at)
                print(f"{entry.id}\t{deleted}\t{clean_line(entry.describe())}")
            return 0
        if not store.data_dir.is_dir():
            raise StoreError(f"nothing in the trash matches {entry_id} (see llmchat-tui trash)")
        store.acquire_lock()
        store.open()
        entry = store.restore(entry_id)
    except BrokenPipeError:
        raise  # `llmchat-tui trash | head -1`: handled by run_subcommand
    except (OSError, StoreError) as error:
        print(f"llmchat-tui: {clean_line(str(error))}", file=sys.stderr)
        return 1
    print(f"restored {clean_line(entry.describe(), 80)} ({entry.conversation_id})", file=sys.stderr)
    return 0
