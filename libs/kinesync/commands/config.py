"""``kinesync config``: every KINESYNC_* setting with its current value, default and meaning."""

from __future__ import annotations

import argparse
import json

from pydantic import SecretStr

from kinesync.settings import Settings


def _show(value: object) -> str:
    if isinstance(value, SecretStr):
        return "(set)" if value.get_secret_value() else "(empty)"
    if value is None:
        return "(unset)"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def rows(settings: Settings) -> list[tuple[str, str, str, str]]:
    out = []
    for name, field in Settings.model_fields.items():
        env = f"KINESYNC_{name.upper()}"
        out.append((env, _show(getattr(settings, name)), _show(field.default), field.description or ""))
    return out


def markdown() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for env, _, default, text in rows(Settings()):
        lines.append(f"| `{env}` | `{default}` | {text} |")
    return "\n".join(lines)


def cmd_config(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown())
        return 0
    width = max(len(r[0]) for r in rows(Settings()))
    for env, current, default, text in rows(Settings()):
        changed = "" if current == default else "   (default " + default + ")"
        print(f"{env:<{width}}  {current}{changed}")
        if text and args.verbose:
            print(f"{'':<{width}}  {text}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config", help="show every KINESYNC_* setting with its value (secrets masked)",
        description="Print every setting KineSync reads from the environment, with the value in force now "
        "(secrets shown only as set/unset) and, where it differs, the default.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="also print what each setting means")
    p.add_argument("--markdown", action="store_true", help="print the defaults as a Markdown table (docs)")
    p.set_defaults(func=cmd_config)
