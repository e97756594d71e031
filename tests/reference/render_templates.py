#!/usr/bin/env python3
"""Renders the cases render_templates.js wrote with Python's jinja2, set up
exactly as transformers' apply_chat_template sets it up, and writes them in
the same format, for render_templates_main to compare with flopsmeter.

  python3 render_templates.py CASES_JSON OUT_JSON

This is the semantics flopsmeter implements (what a trainer tokenizes);
@huggingface/jinja is the independent, always-available reference.
"""
import datetime
import json
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(Extension):
    """transformers' {% generation %} tag (AssistantTracker): renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def main():
    cases_path, out_path = sys.argv[1], sys.argv[2]
    with open(cases_path, encoding="utf-8") as f:
        manifest = json.load(f)
    fixed = manifest["now"]
    now = datetime.datetime(fixed["year"], fixed["month"], fixed["day"], fixed["hour"], fixed["minute"],
                            fixed["second"])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = now.strftime

    compiled = {}
    for case in manifest["cases"]:
        case.pop("expected", None)
        case.pop("error", None)
        path = case["source_file"]
        try:
            if path not in compiled:
                with open(path, encoding="utf-8") as f:
                    compiled[path] = env.from_string(f.read())
            case["expected"] = compiled[path].render(**case["context"])
        except Exception as e:  # the case records what jinja2 raised
            case["error"] = f"{type(e).__name__}: {e}"
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False)
    print(f"render_templates.py: {len(manifest['cases'])} cases written to {out_path}")


if __name__ == "__main__":
    main()
