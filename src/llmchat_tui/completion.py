"""Shell completion scripts (``llmchat-tui completion bash|zsh|fish``).

Each script is a small, hand-readable program generated from the argument
parser itself (its subcommands, their options, which options take a value,
their choices), so a new option completes without touching this module. No
dependency, no Textual.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field
from pathlib import Path

#: Options whose value is a file (completed as paths) or a folder.
FILE_OPTIONS = {"--config", "--tee", "--output", "-o", "--attach", "-a"}
DIR_OPTIONS = {"--data-dir"}


@dataclass
class Option:
    """One option of a command, as completion needs it."""

    strings: list[str]
    takes_value: bool
    choices: list[str]
    help: str
    kind: str = ""  # "file", "dir" or ""


@dataclass
class Command:
    """A subcommand (or the top level, name ""): its options and positional choices."""

    name: str
    help: str
    options: list[Option] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # choices of its positionals
    files: bool = False  # a positional that is a path


def _options(parser: argparse.ArgumentParser) -> tuple[list[Option], list[str], bool]:
    options: list[Option] = []
    words: list[str] = []
    files = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        if not action.option_strings:
            if action.choices:
                words.extend(str(choice) for choice in action.choices)
            elif action.type is Path:
                files = True
            continue
        strings = list(action.option_strings)
        kind = ""
        if set(strings) & DIR_OPTIONS:
            kind = "dir"
        elif set(strings) & FILE_OPTIONS:
            kind = "file"
        help_text = "" if action.help in (None, argparse.SUPPRESS) else str(action.help)
        options.append(
            Option(
                strings=strings,
                takes_value=action.nargs != 0,
                choices=[str(c) for c in action.choices or ()],
                help=help_text.split(" (")[0].split(";")[0],
                kind=kind,
            )
        )
    return options, words, files


def commands_of(parser: argparse.ArgumentParser) -> tuple[Command, list[Command]]:
    """The top level and every subcommand of ``parser``."""
    options, _words, _files = _options(parser)
    top = Command("", parser.description or "", options)
    subs: list[Command] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: str(choice.help or "") for choice in action._choices_actions}
        for name, sub in action.choices.items():
            sub_options, words, files = _options(sub)
            subs.append(Command(name, helps.get(name, ""), sub_options, words, files))
    return top, subs


def value_options(top: Command, subs: list[Command]) -> dict[str, Option]:
    """Every option string that takes a value, across all commands.

    Raises ValueError if one string takes a value in one command and not in
    another: the scripts skip a value after such an option wherever it is.
    """
    seen: dict[str, Option] = {}
    flags: set[str] = set()
    for command in [top, *subs]:
        for option in command.options:
            for string in option.strings:
                if option.takes_value:
                    seen[string] = option
                else:
                    flags.add(string)
    both = flags & set(seen)
    if both:
        raise ValueError(f"options both with and without a value: {sorted(both)}")
    return seen


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (bash, zsh or fish)."""
    top, subs = commands_of(parser)
    if shell == "bash":
        return bash_script(top, subs)
    if shell == "zsh":
        return zsh_script(top, subs)
    if shell == "fish":
        return fish_script(top, subs)
    raise ValueError(f"no completion for {shell!r}")


def _words(items: list[str]) -> str:
    return " ".join(items)


# One path per line (names with spaces stay whole); works in bash and zsh's bashcompinit.
_FILES = "local IFS=$'\\n'; COMPREPLY=($(compgen -f -- \"$cur\"))"


#: Where saved ids come from: the option or command (positional) -> the listing
#: command whose first column they are.
ID_OPTIONS = {"--conversation": "list"}
ID_COMMANDS = {"export": "list"}
#: ``trash restore <TAB>``: the ids in the trash.
RESTORE_WORD = "restore"

# Bash: the first column of `llmchat-tui list` (or trash), for the data folder and
# config given on the line (in ``ctx``).
_IDS_FUNCTION = """\
_llmchat_tui_ids() {
    local IFS=$'\\n'
    COMPREPLY=($(compgen -W "$(command llmchat-tui "$1" "${ctx[@]}" 2>/dev/null \\
        | cut -f1)" -- "$cur"))
}"""


def _reply(words: str) -> str:
    """Bash: the words of ``words`` that start with the word being completed."""
    return f'COMPREPLY=($(compgen -W "{words}" -- "$cur"))'


def bash_script(top: Command, subs: list[Command]) -> str:
    """A bash completion function, ``_llmchat_tui``, registered for ``llmchat-tui``."""
    values = value_options(top, subs)
    skip = "|".join(sorted(values))
    files = "|".join(sorted(s for s, o in values.items() if o.kind == "file"))
    dirs = "|".join(sorted(s for s, o in values.items() if o.kind == "dir"))
    choice_cases = []
    by_choices: dict[str, list[str]] = {}
    for string, option in sorted(values.items()):
        if option.choices:
            by_choices.setdefault(_words(option.choices), []).append(string)
    for words, strings in by_choices.items():
        choice_cases.append(f"        {'|'.join(strings)})\n            {_reply(words)}; return ;;")
    top_options = _words([s for o in top.options for s in o.strings if s.startswith("--")])
    command_cases = []
    for command in subs:
        options = _words([s for o in command.options for s in o.strings if s.startswith("--")])
        action = (
            f"_llmchat_tui_ids {ID_COMMANDS[command.name]}"
            if command.name in ID_COMMANDS
            else _reply(_words(command.words))
            if command.words
            else _FILES
            if command.files
            else "COMPREPLY=()"
        )
        if command.name == "trash":
            action = (
                f"if [[ $prev == {RESTORE_WORD} ]]; then _llmchat_tui_ids trash; else {action}; fi"
            )
        command_cases.append(
            f"        {command.name})\n"
            f"            if [[ $cur == -* ]]; then {_reply(options)}\n"
            f"            else {action}; fi ;;"
        )
    names = _words([c.name for c in subs])
    lines = [
        "# bash completion for llmchat-tui (made by `llmchat-tui completion bash`)",
        _IDS_FUNCTION,
        "_llmchat_tui() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" i word',
        "    local -a ctx=()  # --data-dir and --config as given on the line",
        '    (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
        "    # bash splits --option=value at the = sign: the option is the word before it",
        '    [[ $prev == = ]] && (( COMP_CWORD > 1 )) && prev="${COMP_WORDS[COMP_CWORD-2]}"',
        '    [[ $cur == = ]] && cur=""',
        "    for (( i = 1; i < COMP_CWORD; i++ )); do",
        '        word="${COMP_WORDS[i]}"',
        '        case "$word" in',
        f"            {skip})",
        "                [[ ${COMP_WORDS[i+1]} == = ]] && (( i++ ))",
        "                if [[ $word == --data-dir || $word == --config ]] &&",
        "                    (( i + 1 < COMP_CWORD )); then",
        '                ctx+=("$word" "${COMP_WORDS[i+1]}"); fi',
        "                (( i++ )) ;;",
        "            -*) ;;",
        '            *) [[ -z $cmd ]] && cmd="$word" ;;',
        "        esac",
        "    done",
        '    case "$prev" in',
        *(
            f"        {option}) _llmchat_tui_ids {source}; return ;;"
            for option, source in ID_OPTIONS.items()
        ),
        f"        {files}) {_FILES}; return ;;",
        f"        {dirs}) {_FILES.replace('-f', '-d')}; return ;;",
        *choice_cases,
        f"        {skip}) COMPREPLY=(); return ;;",
        "    esac",
        '    case "$cmd" in',
        '        "")',
        "            if [[ $cur == -* ]]; then",
        f"                {_reply(top_options)}",
        "            else",
        f"                {_reply(names)}",
        "            fi ;;",
        *command_cases,
        "    esac",
        "}",
        "complete -o filenames -F _llmchat_tui llmchat-tui",
        "",
    ]
    return "\n".join(lines)


def zsh_script(top: Command, subs: list[Command]) -> str:
    """zsh: the bash function through zsh's own ``bashcompinit`` (shipped with zsh)."""
    return (
        "# zsh completion for llmchat-tui (made by `llmchat-tui completion zsh`)\n"
        "(( $+functions[compdef] )) || { autoload -U +X compinit && compinit }\n"
        "autoload -U +X bashcompinit && bashcompinit\n" + bash_script(top, subs)
    )


def _fish_ids(source: str) -> str:
    """fish: the saved ids with their titles as descriptions (ID<TAB>TITLE lines)."""
    return f"(llmchat-tui {source} 2>/dev/null | cut -f1,3)"


def fish_script(top: Command, subs: list[Command]) -> str:
    """fish: one ``complete`` line per subcommand and option."""
    names = _words([c.name for c in subs])
    lines = [
        "# fish completion for llmchat-tui (made by `llmchat-tui completion fish`)",
        "complete -c llmchat-tui -f",
    ]
    for command in subs:
        lines.append(
            f"complete -c llmchat-tui -n 'not __fish_seen_subcommand_from {names}' "
            f"-a {command.name} -d {shlex.quote(command.help)}"
        )

    def option_line(option: Option, condition: str) -> str:
        parts = ["complete -c llmchat-tui"]
        if condition:
            parts.append(f"-n {shlex.quote(condition)}")
        for string in option.strings:
            if string.startswith("--"):
                parts.append(f"-l {string[2:]}")
            else:
                parts.append(f"-s {string[1:]}")
        if option.kind in ("file", "dir"):
            parts.append("-r -F")
        elif option.choices:
            parts.append(f"-x -a {shlex.quote(_words(option.choices))}")
        elif set(option.strings) & set(ID_OPTIONS):
            source = next(ID_OPTIONS[s] for s in option.strings if s in ID_OPTIONS)
            parts.append(f"-x -a {shlex.quote(_fish_ids(source))}")
        elif option.takes_value:
            parts.append("-x")
        if option.help:
            parts.append(f"-d {shlex.quote(option.help)}")
        return " ".join(parts)

    for option in top.options:
        if "--help" not in option.strings:
            lines.append(option_line(option, ""))
    top_strings = {s for o in top.options for s in o.strings}
    for command in subs:
        condition = f"__fish_seen_subcommand_from {command.name}"
        for option in command.options:
            if set(option.strings) & top_strings:
                continue
            lines.append(option_line(option, condition))
        if command.name in ID_COMMANDS:
            ids = _fish_ids(ID_COMMANDS[command.name])
            lines.append(
                f"complete -c llmchat-tui -n {shlex.quote(condition)} -a {shlex.quote(ids)}"
            )
        if command.name == "trash":
            restoring = f"{condition}; and __fish_seen_subcommand_from {RESTORE_WORD}"
            lines.append(
                f"complete -c llmchat-tui -n {shlex.quote(restoring)} "
                f"-a {shlex.quote(_fish_ids('trash'))}"
            )
            condition += f"; and not __fish_seen_subcommand_from {RESTORE_WORD}"
        if command.words:
            lines.append(
                f"complete -c llmchat-tui -n {shlex.quote(condition)} "
                f"-a {shlex.quote(_words(command.words))}"
            )
        elif command.files:
            lines.append(f"complete -c llmchat-tui -n {shlex.quote(condition)} -F")
    lines.append("")
    return "\n".join(lines)
