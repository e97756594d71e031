#include "cli/flags.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>

#include "cli/exit_status.h"
#include "core/suggest.h"

namespace flopsmeter::cli {

const std::vector<FlagDef>& all_flags() {
  static const std::vector<FlagDef> kFlags = {
      // Model
      {"model", "MODEL", "Model", "Catalog id, Hub id, config.json, or checkpoint directory",
       "A bundled catalog id (see `flopsmeter models`), a Hugging Face Hub id (ORG/NAME), a Hugging Face config.json, "
       "or a checkpoint directory (config.json plus *.safetensors; only tensor headers are read, never the weights). "
       "A Hub id the local cache lacks is fetched into it: config.json alone (with the tokenizer's files when a "
       "dataset is counted with no --tokenizer), from $HF_ENDPOINT (default https://huggingface.co) with the token "
       "in $HF_TOKEN (else $HF_TOKEN_PATH, else $HF_HOME/token); HF_HUB_OFFLINE=1 never touches the network."},
      {"modules", "", "Model", "List every module (names for --lora-targets)", ""},
      {"revision", "REV", "Model", "Revision of a Hub id: branch, tag or commit (default main)",
       "A Hub id such as Qwen/Qwen2.5-7B is read from the local Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, "
       "else ~/.cache/huggingface/hub) when it holds it: the snapshot refs/REV points at, or the commit given; "
       "otherwise that revision is fetched from the Hub into the cache."},
      // Methods
      {"method", "LIST", "Method", "Methods to compare: full,freeze,lora,dora,qlora,spectrum",
       "Comma-separated. Each method is estimated with the same workload and shown side by side."},
      {"adapter", "PATH", "Method", "A PEFT adapter_config.json (or its directory): the LoRA/DoRA settings it was trained with",
       "r, target_modules (a list, all-linear or a regex), layers_to_transform, modules_to_save, bias, lora_dropout "
       "and use_dora, applied as PEFT applies them; without --method the method is the adapter's (lora or dora). "
       "Settings the accounting does not model (rank_pattern, exclude_modules, target_parameters, "
       "layer_replication) are refused by name."},
      {"lora-r", "N", "Method", "LoRA rank (default 8)", ""},
      {"lora-targets", "LIST", "Method", "LoRA target modules, or all-linear (default q_proj,v_proj)",
       "Matched as PEFT does: a module whose name equals an entry or ends with \".\" + entry. `all-linear` adapts every "
       "linear layer except the output head (MoE routers included, as PEFT does)."},
      {"lora-target-regex", "REGEX", "Method", "LoRA targets as one regex over full module names", ""},
      {"lora-bias", "MODE", "Method", "none, all or lora_only (default none)", ""},
      {"lora-modules-to-save", "LIST", "Method", "Modules trained whole beside the adapters, e.g. lm_head", ""},
      {"lora-dropout", "P", "Method", "LoRA dropout (default 0); DoRA then recomputes the base matmul", ""},
      {"lora-layers", "LIST", "Method", "Adapt only these layer indices (PEFT layers_to_transform)", ""},
      {"freeze-layers", "K", "Method", "freeze: layers 0..K-1 frozen", ""},
      {"freeze-embeddings", "", "Method", "freeze: embeddings (and a tied head) frozen", ""},
      {"spectrum-file", "FILE", "Method", "spectrum: Spectrum's unfrozen_parameters YAML",
       "The YAML Spectrum writes (a list under `unfrozen_parameters:`); each entry is matched with Python re.match "
       "semantics against parameter names, as Axolotl and Spectrum's own scripts do."},
      {"spectrum-fraction", "F", "Method", "spectrum: unfreeze this fraction of each layer type (0-1]",
       "Without a scan the SNR ranking is unknown; flopsmeter assumes the lowest layers (most backward compute), "
       "plus lm_head and embeddings, as Spectrum's generator always adds them. Parameter counts do not depend on which "
       "layers are chosen."},
      // Workload
      {"tokens", "N", "Workload", "Training tokens per epoch (e.g. 5e7)", ""},
      {"samples", "N", "Workload", "Samples per epoch (with --seq-len)", ""},
      {"seq-len", "L", "Workload", "Tokens per sequence (default min(2048, max positions))", ""},
      {"max-steps", "N", "Workload", "Optimizer steps to run, overriding --epochs (transformers' max_steps)",
       "As the Trainer runs them: whole epochs of steps_per_epoch steps, then the rest from one more freshly "
       "shuffled epoch. Needs the micro-batch size."},
      {"epochs", "N", "Workload", "Epochs (default 1); estimate takes fractions such as 2.5",
       "As transformers' num_train_epochs: the Trainer runs ceil(epochs x optimizer steps per epoch) steps, so a "
       "fraction trains the first batches of one more shuffled epoch (estimate counts their expected tokens)."},
      {"attention", "KERNEL", "Workload", "dense (eager, sdpa) or flash (default dense)",
       "Dense kernels execute the full seq^2 of QK^T and AV even under the causal mask; flash-style kernels skip "
       "masked blocks. Dense is the conservative default."},
      {"gradient-checkpointing", "", "Workload", "Count recomputation (reported separately)", ""},
      {"checkpoint-mode", "MODE", "Workload",
       "reentrant (default, transformers') or non-reentrant (use_reentrant=False) gradient checkpointing",
       "Reentrant checkpointing, with the layers' inputs made to require grad as transformers and PEFT arrange, "
       "recomputes every decoder layer and runs its input gradient. Non-reentrant checkpointing recomputes a layer "
       "only when its backward runs, so frozen layers below everything that trains (frozen embeddings) run neither; "
       "the detailed count follows. A recipe's gradient_checkpointing_kwargs.use_reentrant sets it."},
      {"micro-batch-size", "N", "Workload",
       "Sequences per micro-batch, per_device_train_batch_size (enables optimizer steps)",
       "With --dataset it is also the padded batch, and defaults to 8, transformers' default "
       "per_device_train_batch_size. With --tokens or --samples it is unknown unless given."},
      {"grad-accum", "N", "Workload", "Gradient accumulation steps (default 1)", ""},
      {"data-parallel", "N", "Workload", "Data-parallel ranks sharing the batch (default 1)", ""},
      // Dataset
      {"dataset", "FILES", "Dataset", "Count D exactly from these dataset files (comma-separated)",
       "Text, JSON lines or JSON array files, optionally .gz or .zst compressed; Parquet files; Arrow IPC files or a "
       "datasets save_to_disk directory. Each sample is rendered as TRL's "
       "SFTTrainer renders it and tokenized with --tokenizer; D becomes the exact trained-on token count and the "
       "attention term uses the real sequence lengths. See `flopsmeter tokens --help`."},
      {"tokenizer", "PATH", "Dataset", "tokenizer.json, or the directory holding it (and tokenizer_config.json)",
       "Hugging Face fast-tokenizer files. For `estimate` it defaults to the --model directory when that holds a "
       "tokenizer.json."},
      {"format", "F", "Dataset",
       "auto, text, jsonl, json, parquet or arrow (default auto: by content, then name); dossier: html, md or json",
       "For a dataset, how its files are read: auto recognises Parquet and Arrow IPC (datasets' save_to_disk) by "
       "their first bytes and refuses other binary formats (ORC, Avro, zip, SQLite, ...) by name. For `dossier`, the form written: html (one self-contained page that "
       "prints to PDF), md (Markdown) or json (schema flopsmeter.dossier/1); the default is the --output file's "
       "extension (.md, .json), else html."},
      {"text-unit", "U", "Dataset", "Plain text samples: line, paragraph or document (default line)",
       "line: each line is a sample, as datasets.load_dataset(\"text\") reads it (empty lines too); paragraph: blocks "
       "separated by blank lines; document: the whole file."},
      {"schema", "S", "Dataset", "Record schema: auto, text, messages, prompt-completion, alpaca, sharegpt",
       "auto detects per record, in this order: messages, conversations (ShareGPT), prompt+completion, "
       "instruction+output (Alpaca), text."},
      {"field", "NAME", "Dataset", "Record field holding the text or the messages (overrides detection)", ""},
      {"chat-template", "FILE", "Dataset", "Jinja chat template instead of tokenizer_config.json's", ""},
      {"special-tokens", "yes|no", "Dataset", "Add the tokenizer's special tokens to text samples (default yes)",
       "yes is add_special_tokens=True (BOS etc. from the post-processor). Chat samples never get them: the template "
       "writes its own, as apply_chat_template does."},
      {"append-eos", "yes|no", "Dataset", "End text and completions with eos_token when missing (default yes, as TRL)", ""},
      {"max-length", "N", "Dataset", "Truncate samples to N tokens (and the packing block size)", ""},
      {"layout", "L", "Dataset", "unpadded, padded, packed-wrapped or packed-bfd (tokens: unpadded; estimate: padded)",
       "unpadded: one sequence per sample. padded: batches of samples (--batch-size for tokens, --micro-batch-size for "
       "estimate; default 8) padded to the batch's longest sample, as TRL's SFTTrainer pads by default (or to "
       "--max-length with --pad-to-max-length), in random order unless --order file. packed-wrapped: the samples of "
       "each --packing-chunk concatenated and cut into --max-length blocks, batched and padded like samples. packed-bfd: TRL's packing=True default, best-fit decreasing per "
       "--packing-chunk samples, attention within each sample. tokens defaults to unpadded: the dataset's own "
       "lengths, exact whatever the trainer's batch and order; estimate defaults to what a TRL run executes."},
      {"batch-size", "N", "Dataset", "Rows per padded batch (default 8, transformers' per_device_train_batch_size)",
       ""},
      {"order", "O", "Dataset", "padded, packed-wrapped: random (default) or file order",
       "random: the Trainer draws a fresh shuffle every epoch (RandomSampler), so the padded figures are expected over "
       "uniformly random shuffles, with the order that pads the most beside them. file: batches of consecutive samples "
       "in the files' order, as a sequential sampler takes them."},
      {"pad-to-max-length", "", "Dataset", "padded, packed-wrapped: pad every batch to --max-length", ""},
      {"packing-chunk", "N", "Dataset", "packed-bfd, packed-wrapped: samples packed together (default 1000, TRL's)",
       ""},
      {"threads", "N", "Dataset", "Worker threads (default: one per core)", ""},
      {"strict", "", "Dataset", "Fail on the first malformed record instead of skipping it", ""},
      {"per-sample", "", "Dataset", "Print each sample's token count, one per line, in input order", ""},
      {"ids", "", "Dataset", "Print each sample's token ids, one line per sample, in input order", ""},
      {"no-progress", "", "Dataset", "No progress bar (it is shown only on a terminal anyway)", ""},
      // Rules
      {"pretrain-flops", "F", "Rules", "Base model's pretraining compute (or PRETRAIN_FLOPS)",
       "Finite, positive, whole: e.g. 8.4e22. Overrides the catalog's figure. Without it and without a catalog figure "
       "the Guidelines' \"unknown\" threshold applies (1e23/3, or 1e25/3 with --base-systemic-risk)."},
      {"base-systemic-risk", "", "Rules", "The base is a GPAI model with systemic risk", ""},
      {"prior-modifications", "F", "Rules", "FLOP already spent on earlier modifications of this lineage", ""},
      {"compliance-formula", "NAME", "Rules", "Formula the regimes compare: detailed, eu_6nd, peft_aware", ""},
      {"aws-compat", "", "Rules", "Also show the AWS toolkit's verdict (0.30, 3.3e22)", ""},
      {"fail-if-exceeds", "[REGIMES]", "Rules", "Exit 1 when a regime you must act on is exceeded (3: undetermined)",
       "Without a value the gate decides your own obligations as a modifier: eu_modification, and every other "
       "in-force regime that the modification itself takes over its threshold (not one the base model already "
       "exceeds on its own). A comma-separated list of regime ids (see `flopsmeter rules`) or 'all' gates on "
       "those instead; give it as --fail-if-exceeds=LIST, or as the next argument when that is such a list. "
       "Every exit 1 or 3 prints which regime, method, figure and threshold tripped the gate"},
      // Hardware
      {"gpu", "NAME", "Hardware", "GPU catalog id or exact NVML name (see `flopsmeter gpus`)", ""},
      {"gpus", "N", "Hardware", "Number of GPUs", ""},
      {"hours", "H", "Hardware", "Wall-clock hours", ""},
      {"dtype", "T", "Hardware", "fp32, tf32, bf16, fp16 or fp8 (default bf16)", ""},
      {"utilization", "U", "Hardware", "Utilisation in (0, 1] (default 1, the upper bound)", ""},
      {"peak-flops", "F", "Hardware", "Peak FLOP/s per GPU instead of --gpu", ""},
      // Run (the runtime meter: report, merge, watch)
      {"run", "DIR", "Run", "The run directory (journals, flops_meter.json)",
       "Holds one journal per rank (journal-rank<R>.jsonl): fsync'd, hash-chained JSON lines, so a killed job "
       "leaves a valid record. docs/meter.md describes the files."},
      {"write", "", "Run", "Also (re)write RUN/flops_meter.json (or --out) atomically", ""},
      {"output-dir", "DIR", "Run", "Where train writes checkpoints, weights and the run (default: the recipe's output_dir)",
       "Holds checkpoint-N/ (weights, optimizer.pt, trainer_state.json), the final weights in Hugging Face's "
       "layout (model.safetensors, or a PEFT adapter) and, with compute_flops: true, the metered run in "
       "flops_meter_run/."},
      {"out", "FILE", "Run", "Where flops_meter.json goes (or FLOPS_METER_OUT; default RUN/flops_meter.json)", ""},
      {"model-name", "NAME", "Run", "Display name of the model in the record (AWS model_name)", ""},
      {"n-total", "N", "Run", "Total parameters as the trainer reports them (after the PEFT wrap)", ""},
      {"n-trainable", "N", "Run", "Trainable parameters as the trainer reports them", ""},
      {"resume", "", "Run", "Continue the run (a restarted or resumed job; train: from the latest checkpoint)",
       "The new segment continues from the checkpoint given by --resume-step (default: the latest checkpoint in the "
       "journals), so nothing is counted twice; compute a crashed segment spent after that checkpoint is reported "
       "as spent and not in the final weights."},
      {"resume-step", "N", "Run", "Global step of the checkpoint the job resumed from", ""},
      {"nvml", "", "Run", "Sample the job's GPUs through NVML (or FLOPS_METER_NVML=1)", ""},
      {"nvml-library", "PATH", "Run", "NVML library to load (default libnvidia-ml.so.1)", ""},
      {"sample-hz", "HZ", "Run", "GPU samples per second (default 10)", ""},
      {"visible-devices", "LIST", "Run", "The job's GPUs, as CUDA_VISIBLE_DEVICES (default: that variable)", ""},
      {"journal-interval", "S", "Run", "Seconds between journal lines (default 10)", ""},
      {"budget", "F", "Run", "Stop before compute would exceed F FLOP", ""},
      {"budget-fraction", "X", "Run", "Stop before compute would exceed X times the EU modification threshold",
       "X in (0, 1], e.g. 0.9: warnings at 50%, 80% and 90% of the budget, then a graceful stop before the step that "
       "would cross it. The record says the run was stopped by the budget."},
      {"budget-lookahead", "N", "Run", "Stop for the budget N steps before it would be crossed (default 1)",
       "The stop comes after the step at which the compute so far plus N of the costliest steps would pass the "
       "budget. With --max-length, --micro-batch-size and --grad-accum the costliest step is the one they allow (a "
       "guarantee: the run never exceeds the budget); without them it is the costliest step so far (a prediction). "
       "Raise N when the job takes several steps to stop."},
      {"tokens-from", "FILE", "Run", "watch: read tokens from a trainer_state.json or a token file",
       "A Hugging Face trainer_state.json (its num_input_tokens_seen, written at each checkpoint), or a text file "
       "the job appends to, one cumulative non-padding token count per line. With --resume, the count found there "
       "before the command starts belongs to the earlier segments and is not counted again; a count that goes "
       "back (a job restarted from an earlier checkpoint) is counted again from there, since re-done steps are "
       "spent compute."},
      {"run-id", "ID", "Run", "The run's id, the same on every node (or FLOPS_METER_RUN_ID; e.g. the job's id)",
       "Without it the first rank to begin draws an id into RUN/run.json, which other nodes see only through a "
       "shared directory. With node-local run directories give every node the same id, so that `flopsmeter merge` "
       "takes their shards as one run. A directory that holds another run is refused."},
      {"node-rank", "R", "Run", "watch: this node's rank in a multi-node job (torchrun's --node-rank; default 0)",
       "Run one watch per node, each with --node-rank and --nnodes: every node samples its own GPUs into its own "
       "shard; node 0 also reads the job's tokens (--tokens-from, which only node 0 may give: the count a job "
       "writes is the whole job's) and enforces the budget. Merge the shards with `flopsmeter merge`."},
      {"nnodes", "N", "Run", "watch: the number of nodes in the job (torchrun's --nnodes; default 1)", ""},
      {"end-wait", "S", "Run", "Seconds node/rank 0 waits at the end for the others' shards in --run (default 30)",
       ""},
      {"nproc-per-node", "N", "Run", "train: run N data-parallel ranks on this machine (as torchrun --nproc-per-node)",
       "Each rank is the trainer again with torchrun's variables (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, "
       "MASTER_PORT): it trains its share of every optimizer step's micro-batches (per_device_train_batch_size x "
       "gradient_accumulation_steps each), the ranks sum their gradients over Gloo before every step, rank 0 writes "
       "the checkpoints, the weights and the record, and every rank journals its own tokens into the run. Ctrl-C and "
       "SIGTERM reach every rank; when one fails the others are stopped. For several machines run the trainer under "
       "torchrun instead (torchrun --no-python --nnodes ... flopsmeter-train ...), which sets the same variables."},
      {"job-name", "NAME", "Run", "Training job name for the record (or TRAINING_JOB_NAME)", ""},
      {"training-id", "ID", "Run", "Training id for the record", ""},
      {"recipe", "FILE", "Run", "A training recipe YAML (TRL, the AWS toolkit's, Axolotl): its settings as options",
       "The model, dataset, method with its LoRA or Spectrum settings, sequence length, packing, batch, gradient "
       "accumulation, epochs or max_steps, gradient checkpointing and attention are read as the training program reads "
       "them (docs/recipes.md has the table); options given on the command line win. A key that changes the compute "
       "in a way flopsmeter does not model is refused by name, an unknown key is an error, as TRL's parser makes it. "
       "The file is hashed into the record; for watch, the recipe's model is the record's model name."},
      {"instance-type", "TYPE", "Run", "Instance type for the record (e.g. ml.p5.48xlarge)", ""},
      // Ledger
      {"ledger", "PATH|URL", "Ledger", "The audit ledger: a SQLite file or a postgresql:// URL",
       "Also FLOPSMETER_LEDGER; default $XDG_DATA_HOME/flopsmeter/ledger.sqlite. With it a metered run's record is "
       "appended when the run ends (rank 0, idempotently)."},
      {"ledger-key", "FILE", "Ledger", "The Ed25519 key that signs what this command appends",
       "Also FLOPSMETER_LEDGER_KEY; default $XDG_CONFIG_HOME/flopsmeter/ledger.key, made on first use when missing."},
      {"ledger-model", "NAME", "Ledger", "The ledger's model this run (or plan) trains from",
       "Its base compute, the organisation's earlier modifications and the systemic-risk designation come from the "
       "ledger's lineage: the regimes (and a budget) then cover the lineage's sum."},
      {"ledger-produces", "NAME", "Ledger", "The model the run makes (registered under --ledger-model)", ""},
      {"from-ledger", "", "Ledger", "dossier: the subject is a model of the ledger, even where a path of that name exists",
       "Without it an existing file or directory is read as a run or an estimate first, so a model named like a "
       "local path (acme/sft beside a directory acme/sft) needs it."},
      {"organisation", "ORG", "Ledger", "Who makes the model (also FLOPSMETER_ORGANISATION)",
       "The modifications the EU rule adds up are one organisation's since the nearest ancestor another "
       "organisation made."},
      {"parents", "LIST", "Ledger", "The models it derives from (a merge: several)", ""},
      {"how", "TEXT", "Ledger", "How it was made: fine-tune, merge, average, ...", ""},
      {"pretrain-source", "TEXT", "Ledger", "Where --pretrain-flops comes from (a public citation)", ""},
      {"pretrain-unknown", "", "Ledger", "The base's pretraining compute is unknown (the rules' defaults apply)", ""},
      {"pretrain-run", "RUN", "Ledger", "The base was pretrained by this metered run (its directory or record)",
       "The figure is what the run measured in its final weights, status measured; the record is checked against its "
       "journals first, and the source names the run and its record's SHA-256."},
      {"note", "TEXT", "Ledger", "The text of an annotation", ""},
      {"supersedes", "", "Ledger", "The annotation corrects the entry: it no longer counts, and stays visible", ""},
      {"head", "FILE", "Ledger", "A tree head kept earlier: prove the ledger extends it",
       "A consistency proof (RFC 6962) that today's ledger holds that head's tree unchanged: truncation and rewriting "
       "are caught even by someone who rewrote every hash."},
      {"trusted-key", "LIST", "Ledger", "Heads must be signed by these keys (public keys, key ids or key files)", ""},
      {"record", "", "Ledger", "estimate: append the estimate to the ledger (the pre-training decision on file)", ""},
      // Export
      {"to", "URL", "Export", "Where to: s3://bucket/prefix or dynamodb://table",
       "s3://bucket/prefix puts the objects under prefix/RUN_ID/ (a model's dossier under prefix/models/NAME/, heads "
       "under prefix/ledger-heads/LEDGER_ID/); dynamodb://table writes one item per run, keyed by run_id and "
       "record_version (docs/export.md lists the layout and the IAM permissions each needs)."},
      {"export", "URL", "Export", "Export the run when it ends: s3://bucket/prefix or dynamodb://table",
       "Also FLOPSMETER_EXPORT (or FLOPS_METER_EXPORT). Node 0 exports the run directory once the record is written (and in the ledger, "
       "which then records the export); a failure is a warning in the record, and the job's exit status stays its own."},
      {"ledger-head", "", "Export", "Export the ledger's current signed head", ""},
      {"endpoint-url", "URL", "Export", "An S3-compatible store or DynamoDB endpoint, e.g. http://127.0.0.1:9000",
       "Also AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL; default AWS's endpoint for the "
       "region. No user name or password in it: credentials come from the AWS credential chain."},
      {"region", "REGION", "Export", "AWS region (default AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1)",
       ""},
      {"profile", "NAME", "Export", "AWS profile of ~/.aws/credentials and ~/.aws/config (default AWS_PROFILE)",
       "Credentials are looked for as the AWS SDKs look: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, "
       "the profile in the shared files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE), the container endpoint "
       "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI), the EC2 instance metadata service (IMDSv2)."},
      {"path-style", "", "Export", "Address objects as endpoint/bucket/key (always for an IP address or localhost)",
       ""},
      {"sse", "MODE", "Export", "Server-side encryption of the objects: AES256 (SSE-S3) or aws:kms (SSE-KMS)", ""},
      {"sse-kms-key-id", "ID", "Export", "The KMS key of --sse aws:kms (default the bucket's)", ""},
      {"export-timeout", "S", "Export", "Seconds a request may wait for the store (default 30)",
       "Beyond the time its body takes at 256 KiB/s; a request that gets no answer in time, or stalls that long, "
       "fails (and is tried again when safe to repeat)."},
      {"export-attempts", "N", "Export", "Attempts per request, 1 to 10 (default 4; repeats only safe requests)",
       "A request without an answer, or answered HTTP 429, 500, 502, 503 or 504 (or throttled), is tried again after "
       "a backoff of 0.25 s doubling, with jitter, or after the store's Retry-After (up to 30 s), when it is safe to "
       "repeat: every PUT, part and conditional write is; starting a multipart upload is repeated only when it never "
       "left."},
      // Output
      {"json", "", "Output", "Print JSON (versioned schema) instead of text", ""},
      {"html", "FILE", "Output", "estimate: also write the comparison as one HTML page (its dossier)",
       "The methods side by side with their verdicts, charts of each method's compute against the thresholds and "
       "by every formula: the pre-training decision as a file to keep. Written atomically, as dossier -o writes; "
       "the estimate itself still goes to stdout."},
      {"output", "FILE", "Output", "Write to FILE instead of stdout (atomically; prints the path)",
       "The document goes to a temporary file beside FILE, is flushed, then renamed over FILE: a reader never sees "
       "half a file. A symbolic link, directory, FIFO or device at FILE is refused and left as it is."},
      {"data-dir", "DIR", "Output", "Data directory overriding the built-in rules and catalogs",
       "Same layout as data/ (rules.json, gpus.json, models/*.json); entries with the same id replace the built-in "
       "ones. Also FLOPSMETER_DATA_DIR."},
  };
  return kFlags;
}

const std::vector<CommandDef>& all_commands() {
  static const std::vector<CommandDef> kCommands = {
      {"estimate",
       "Compare training methods' compute and regulatory standing before a job",
       "flopsmeter estimate --model MODEL --method LIST (--tokens N | --samples N --seq-len L) [options]",
       "Counts the model's parameters exactly, plans each method's trainable parameters (as PEFT reports them), "
       "computes FLOPs by three formulas side by side (eu_6nd, peft_aware, detailed) and evaluates every regulatory "
       "regime on the detailed figure (or --compliance-formula), with the headroom left in FLOP and tokens.",
       {"model", "revision", "method", "adapter", "lora-r", "lora-targets", "lora-target-regex", "lora-bias", "lora-modules-to-save",
        "lora-dropout", "lora-layers", "freeze-layers", "freeze-embeddings", "spectrum-file", "spectrum-fraction", "tokens", "samples",
        "seq-len", "epochs", "max-steps", "recipe", "dataset", "tokenizer", "format", "text-unit", "schema", "field", "chat-template",
        "special-tokens", "append-eos", "max-length", "layout", "order", "pad-to-max-length", "packing-chunk",
        "threads", "strict", "no-progress", "attention", "gradient-checkpointing", "checkpoint-mode", "micro-batch-size", "grad-accum", "data-parallel",
        "pretrain-flops", "base-systemic-risk", "prior-modifications", "compliance-formula", "aws-compat",
        "fail-if-exceeds", "gpu", "gpus", "hours", "dtype", "utilization", "peak-flops", "ledger", "ledger-key",
        "ledger-model", "organisation", "record", "json", "html", "data-dir"},
       {"flopsmeter estimate --model meta-llama/Llama-3.2-3B-Instruct --method full,lora,spectrum --lora-r 8 "
        "--lora-targets q_proj,v_proj --spectrum-fraction 0.25 --tokens 50000000 --epochs 3",
        "flopsmeter estimate --model ./my-checkpoint --method qlora --lora-targets all-linear --samples 20000 "
        "--seq-len 1024 --pretrain-flops 8.4e22 --json",
        "flopsmeter estimate --model meta-llama/Llama-3.2-1B --method full,lora --tokens 2e8 --html plan.html",
        "flopsmeter estimate --recipe examples/recipes/llama-3.2-1b-lora.yaml --tokens 2e8"},
       0, 0},
      {"tokens",
       "Count a dataset's training tokens exactly, as the trainer will see them",
       "flopsmeter tokens --tokenizer PATH [options] FILE...",
       "Reads text, JSON lines or JSON array files (gzip or zstd compressed too), Parquet files and Arrow IPC files "
       "or save_to_disk directories (each row a record), renders each record the way TRL's "
       "SFTTrainer does (chat records through the model's chat template) and tokenizes it with the model's "
       "tokenizer.json, id for id as Hugging Face tokenizers would. Prints samples, tokens, skipped records and the "
       "sequence layout (truncation, padding or packing) with the sum of squared sequence lengths the attention term "
       "needs. Malformed records are reported with file and line and skipped (--strict stops instead). Streams with "
       "bounded memory on all cores; results do not depend on the thread count.",
       {"tokenizer", "format", "text-unit", "schema", "field", "chat-template", "special-tokens", "append-eos",
        "max-length", "layout", "batch-size", "order", "pad-to-max-length", "packing-chunk", "threads", "strict",
        "per-sample", "ids", "no-progress", "json"},
       {"flopsmeter tokens --tokenizer ./Llama-3.1-8B-Instruct train.jsonl.zst",
        "flopsmeter tokens --tokenizer tokenizer.json --max-length 2048 --layout packed-bfd --json data/*.jsonl",
        "flopsmeter tokens --tokenizer ./qwen --special-tokens no --append-eos no --ids texts.jsonl",
        "flopsmeter tokens --tokenizer ./Qwen2.5-7B-Instruct train-00000-of-00002.parquet train-00001-of-00002.parquet"},
       1, SIZE_MAX},
      {"report",
       "Report a metered run from its journals (finalises a crashed run)",
       "flopsmeter report --run DIR [--write] [--json]",
       "Reads every rank's journal in the run directory, checks each line's hash chain, adds up the segments (a "
       "resumed job continues from its checkpoint; compute a crashed segment spent after it is reported as spent and "
       "not in the final weights) and evaluates every regime. A run whose processes died is reported with what its "
       "journals hold. --write (re)writes flops_meter.json atomically.",
       {"run", "write", "out", "fail-if-exceeds", "json", "data-dir"},
       {"flopsmeter report --run runs/llama-lora", "flopsmeter report --run runs/llama-lora --write --json",
        "flopsmeter report --run runs/llama-lora --fail-if-exceeds"},
       0, 0},
      {"merge",
       "Merge the rank shards of one run kept in several directories",
       "flopsmeter merge --run TARGET SOURCE...",
       "Copies the journals of each SOURCE run directory (e.g. one per node) into TARGET, refusing shards of another "
       "run or two different shards of one rank, then reports the merged run and writes TARGET/flops_meter.json.",
       {"run", "out", "fail-if-exceeds", "json", "data-dir"},
       {"flopsmeter merge --run runs/all node0/runs/a node1/runs/a"},
       1, SIZE_MAX},
      {"watch",
       "Meter any training command from outside",
       "flopsmeter watch --run DIR [options] -- COMMAND [ARGS...]",
       "Runs COMMAND, samples the GPUs its process tree uses (with --nvml) for its lifetime, reads tokens where the "
       "job exposes them (--tokens-from), enforces --budget by stopping the job with SIGINT then SIGTERM, and "
       "writes flops_meter.json when it ends. Returns COMMAND's exit status and forwards SIGINT, SIGTERM, SIGHUP, "
       "SIGQUIT, SIGUSR1 and SIGUSR2 to it (Ctrl-Z stops both). Without a GPU it records time, with the GPU figures marked unavailable.",
       {"run", "out", "resume", "resume-step", "model", "model-name", "method", "adapter", "lora-r", "lora-targets",
        "lora-target-regex", "lora-bias", "lora-modules-to-save", "lora-dropout", "lora-layers", "freeze-layers",
        "freeze-embeddings", "spectrum-file", "spectrum-fraction", "n-total", "n-trainable", "attention",
        "gradient-checkpointing", "checkpoint-mode", "epochs", "dataset", "pretrain-flops", "base-systemic-risk", "prior-modifications",
        "compliance-formula", "budget", "budget-fraction", "budget-lookahead", "max-length", "micro-batch-size",
        "grad-accum", "nvml", "nvml-library", "sample-hz",
        "visible-devices", "dtype", "peak-flops", "journal-interval", "tokens-from", "run-id", "node-rank", "nnodes",
        "end-wait", "job-name", "training-id", "recipe", "instance-type", "ledger", "ledger-key", "ledger-model",
        "ledger-produces", "organisation", "export", "endpoint-url", "region", "profile", "path-style", "sse",
        "sse-kms-key-id", "export-timeout", "export-attempts", "fail-if-exceeds", "json", "data-dir"},
       {"flopsmeter watch --run runs/a --nvml --model gpt2 --tokens-from out/trainer_state.json -- python train.py",
        "flopsmeter watch --run runs/b --budget-fraction 0.9 --n-total 1236814848 --n-trainable 1236814848 "
        "--tokens-from out/trainer_state.json -- torchrun --nproc-per-node 8 train.py"},
       1, SIZE_MAX},
      {"train",
       "Fine-tune (or pretrain) a Llama or Qwen2 model from a recipe, metered",
       "flopsmeter train --recipe RECIPE.yaml [options]",
       "The native C++ trainer (libtorch; built when libtorch is found): supervised fine-tuning as TRL's SFTTrainer "
       "runs it, from the recipe's keys (the same reader as estimate --recipe): a local Hugging Face-format model "
       "directory (config.json and safetensors; without weights it starts from scratch), the dataset read and "
       "tokenized as `tokens` reads it, rows padded in their micro-batch or packed as TRL packs them (bfd, run "
       "padding-free, or wrapped), full, LoRA, freeze or Spectrum training, AdamW with the recipe's schedule, "
       "gradient accumulation and checkpointing, checkpoints every save_steps and --resume. With compute_flops: "
       "true the meter runs inside the loop (OUTPUT_DIR/flops_meter_run: journals, flops_meter.json, the ledger "
       "entry and the export, as for any metered run), and the record shows the matrix-product FLOP the trainer "
       "executed, counted product by product, beside each formula. SIGINT or SIGTERM stops after the current step "
       "with a checkpoint. Flags beside the recipe win over its keys.",
       {"recipe", "output-dir", "resume", "method", "lora-r", "lora-targets", "lora-target-regex", "lora-layers",
        "lora-dropout", "freeze-layers", "freeze-embeddings", "spectrum-file", "spectrum-fraction", "epochs",
        "max-steps", "micro-batch-size", "grad-accum", "max-length", "layout", "packing-chunk", "pad-to-max-length",
        "gradient-checkpointing", "checkpoint-mode", "nproc-per-node", "pretrain-flops",
        "base-systemic-risk", "prior-modifications",
        "compliance-formula", "budget", "budget-fraction", "budget-lookahead", "nvml", "nvml-library", "sample-hz",
        "dtype", "peak-flops", "journal-interval", "job-name", "training-id", "ledger", "ledger-key", "ledger-model",
        "ledger-produces", "organisation", "export", "endpoint-url", "region", "profile", "path-style", "sse",
        "sse-kms-key-id", "export-timeout", "export-attempts", "data-dir"},
       {"flopsmeter train --recipe recipes/llama-lora.yaml",
        "flopsmeter train --recipe recipes/llama-full.yaml --ledger-model acme/base --ledger-produces acme/sft --resume",
        "flopsmeter train --recipe recipes/llama-full.yaml --nproc-per-node 2"},
       0, 0},
      {"inspect",
       "Show a model's exact parameter breakdown",
       "flopsmeter inspect MODEL [--modules] [--json]",
       "Counts parameters the way transformers' model.num_parameters() does (tied weights once, buffers excluded, "
       "4-bit packed weights as logical parameters) and breaks them down by component; for MoE also the parameters "
       "active per token.",
       {"model", "revision", "modules", "json", "data-dir"},
       {"flopsmeter inspect Qwen/Qwen3-30B-A3B", "flopsmeter inspect ./checkpoint-dir --json"},
       0, 1},
      {"rules",
       "List the regulatory regimes, thresholds and sources",
       "flopsmeter rules [--json]",
       "Every regime flopsmeter evaluates, with its legal source, status (in force, revoked, vetoed, not confirmed), "
       "dates, what compute it compares and its threshold.",
       {"json", "data-dir"},
       {"flopsmeter rules", "flopsmeter rules --json"},
       0, 0},
      {"models",
       "List the bundled model catalog",
       "flopsmeter models [--json]",
       "The models whose configs ship with flopsmeter, with parameter counts and, where published, pretraining "
       "compute and its source.",
       {"json", "data-dir"},
       {"flopsmeter models"},
       0, 0},
      {"completion",
       "Print shell completion for bash or zsh, generated from the flag table",
       "flopsmeter completion bash|zsh",
       "Prints a completion script naming every command, ledger subcommand and flag as the parser takes them; "
       "after a flag that takes a value it completes file names.",
       {},
       {"source <(flopsmeter completion bash)   # in ~/.bashrc",
        "flopsmeter completion zsh > \"${fpath[1]}/_flopsmeter\"   # or source <(flopsmeter completion zsh) in ~/.zshrc"},
       1, 1},
      {"gpus",
       "List the GPU catalog (dense peaks by variant and dtype)",
       "flopsmeter gpus [--json]",
       "Dense peak throughput per GPU variant and dtype, matched by exact NVML device name, with datasheet sources.",
       {"json", "data-dir"},
       {"flopsmeter gpus"},
       0, 0},
      {"dossier",
       "Write the compliance dossier of a model in the ledger, a run or an estimate: HTML, Markdown or JSON",
       "flopsmeter dossier MODEL|RUN_DIR|ESTIMATE.json [--format html|md|json] [-o FILE]",
       "The document a compliance officer signs. The verdict comes first: one headline per regime in force (the EU "
       "modification rule first) with its threshold's basis, the margin and the Guidelines' 30% uncertainty flag; "
       "regimes not in force follow, apart. Then the EU AI Act Annex XI 2(d)/(e) and Code of Practice Model "
       "Documentation Form fields (parameters, training compute, training time, energy, model dependencies) with a "
       "generated methodology text, charts (cumulative compute against each threshold, compute per run, the "
       "formulas side by side), the lineage with compute at each node, the runs and their segments, and the "
       "evidence: run ids, journal hashes, the signed ledger head and the model entry's inclusion proof, tool and "
       "data versions, dataset and config SHA-256. Every figure names its source (a ledger entry, a record "
       "field); one that cannot be established says \"undetermined\" or \"not available\" and why, never 0. "
       "An existing path is read as a run directory, its flops_meter.json or a recorded estimate (estimate --json: "
       "the pre-training decision, each method's planned compute against the thresholds); anything else as a "
       "model of the ledger (--ledger); --from-ledger reads it as a model even where such a path exists. The HTML "
       "is one file with no script and no external request.",
       {"format", "output", "ledger", "from-ledger", "data-dir"},
       {"flopsmeter dossier acme/llama-sft -o dossier.html",
        "flopsmeter dossier runs/llama-lora --format md > DOSSIER.md",
        "flopsmeter dossier plan.json -o plan.html   # plan.json from flopsmeter estimate ... --json",
        "flopsmeter dossier acme/llama-sft --format json --ledger postgresql://ledger@db.example/ledger",
        "flopsmeter dossier acme/sft --from-ledger -o sft.html   # a model named like a local directory"},
       1, 1},
      {"export",
       "Export a run, a model's runs or the ledger's head to an S3-compatible store or DynamoDB",
       "flopsmeter export (RUN_DIR | MODEL | --ledger-head) --to URL [options]",
       "Puts what an auditor needs where the organisation keeps it. A run directory: its journals, the dossier files "
       "it holds (dossier.html, dossier.md, dossier.json), the ledger's signed head and last its flops_meter.json. A "
       "model of the ledger: each of its runs' records as the ledger holds them, and its dossier (HTML and JSON) with "
       "the head. --ledger-head: the head alone, kept per size. To DynamoDB: one item per run record (and per head), "
       "written under a condition that never replaces an item, so a retry cannot duplicate or overwrite anything. "
       "Every object's answer is checked against what was sent (ETag against the MD5, or the store's SHA-256 "
       "checksum); journals above 8 MiB go up in parts. Once the store confirmed a record, the ledger records where "
       "it went (URL, ETag or version, time), which `ledger show` lists; nothing unconfirmed is ever recorded. A run "
       "not in the ledger is exported and said not to be recorded.",
       {"to", "ledger-head", "endpoint-url", "region", "profile", "path-style", "sse", "sse-kms-key-id",
        "export-timeout", "export-attempts", "ledger", "ledger-key", "data-dir", "json"},
       {"flopsmeter export runs/llama-lora --to s3://acme-audit/flops",
        "flopsmeter export acme/llama-sft --to dynamodb://flops-runs --region eu-west-1",
        "flopsmeter export --ledger-head --to s3://acme-audit/ledger --sse aws:kms --sse-kms-key-id alias/audit",
        "flopsmeter export runs/a --to s3://runs/flops --endpoint-url http://127.0.0.1:9000"},
       0, 1, kExportExitStatusText},
      {"ledger init",
       "Create the audit ledger, with this machine's signing key",
       "flopsmeter ledger init [--ledger PATH|URL]",
       "Creates the ledger (a SQLite file, WAL mode, or the schema in a PostgreSQL database) and registers the "
       "signing key, making one at the default path when there is none. Appending needs no init: the first append "
       "creates the ledger too.",
       {"ledger", "ledger-key", "json"},
       {"flopsmeter ledger init", "flopsmeter ledger init --ledger postgresql://ledger@db.example/ledger"},
       0, 0, kLedgerExitStatusText},
      {"ledger keygen",
       "Make an Ed25519 signing key and register it in the ledger",
       "flopsmeter ledger keygen [--ledger-key FILE]",
       "Writes a new key pair (mode 0600, never over an existing file) and appends its public key to the ledger, "
       "so that heads it signs verify. Each machine or person that appends has its own key.",
       {"ledger", "ledger-key", "json"},
       {"flopsmeter ledger keygen --ledger-key ~/.config/flopsmeter/ci.key"},
       0, 0, kLedgerExitStatusText},
      {"ledger register",
       "Register a model: a base with its pretraining compute, or a derived model (a merge) with its parents",
       "flopsmeter ledger register MODEL [--pretrain-flops F --pretrain-source S | --pretrain-run RUN | "
       "--pretrain-unknown] "
       "[--parents A,B] [--organisation ORG]",
       "A base model needs its pretraining compute with a public source, the metered run that pretrained it, or "
       "--pretrain-unknown (a catalog id takes "
       "the catalog's figure and source). A derived model names its parents, already in the ledger; a merge or an "
       "average has several and adds their lineages, a shared ancestor counted once.",
       {"ledger", "ledger-key", "organisation", "parents", "how", "pretrain-flops", "pretrain-source",
        "pretrain-unknown", "pretrain-run", "base-systemic-risk", "note", "data-dir", "json"},
       {"flopsmeter ledger register meta-llama/Llama-3.1-8B --pretrain-flops 1.224e24 --pretrain-source "
        "https://huggingface.co/meta-llama/Llama-3.1-8B --organisation Meta",
        "flopsmeter ledger register acme/tiny-base --pretrain-run runs/pretrain --organisation Acme",
        "flopsmeter ledger register acme/merged --parents acme/sft-a,acme/sft-b --how merge --organisation Acme"},
       1, 1, kLedgerExitStatusText},
      {"ledger add",
       "Append a run's flops_meter.json: the run that made a model",
       "flopsmeter ledger add RUN_DIR|flops_meter.json --ledger-produces NAME [--ledger-model PARENT]",
       "Appends the record exactly as the meter wrote it, after checking that the run's journals still hold the "
       "lines it pinned. A new --ledger-produces model is registered as made from --ledger-model (a catalog id is "
       "registered as a base first). Adding the same record again changes nothing; another record of the same run "
       "(a re-report) supersedes the earlier entry.",
       {"ledger", "ledger-key", "ledger-model", "ledger-produces", "organisation", "how", "data-dir", "json"},
       {"flopsmeter ledger add runs/sft --ledger-produces acme/llama-sft --ledger-model meta-llama/Llama-3.1-8B"},
       1, 1, kLedgerExitStatusText},
      {"ledger import",
       "Append flops_meter.json files of the AWS toolkit, marked as imported",
       "flopsmeter ledger import FILE... --ledger-produces NAME [--ledger-model PARENT]",
       "The AWS Fine-Tuning FLOPs Meter's records keep three significant digits and count parameters before the "
       "PEFT wrap; they are recorded as they are, marked imported, with the toolkit's formula recomputed exactly "
       "from their integer counts.",
       {"ledger", "ledger-key", "ledger-model", "ledger-produces", "organisation", "how", "data-dir", "json"},
       {"flopsmeter ledger import s3-copy/flops_meter.json --ledger-produces acme/old-sft --ledger-model gpt2"},
       1, SIZE_MAX, kLedgerExitStatusText},
      {"ledger models",
       "List the ledger's models with their own and cumulative compute",
       "flopsmeter ledger models [--json]",
       "Every model, base or derived, with its organisation, parents, runs, own compute and cumulative compute.",
       {"ledger", "json"},
       {"flopsmeter ledger models"},
       0, 0, kLedgerExitStatusText},
      {"ledger show",
       "Show a model: its entry, runs, estimates, annotations and exports",
       "flopsmeter ledger show MODEL [--json]",
       "What the ledger holds about one model, each with its entry number.",
       {"ledger", "json"},
       {"flopsmeter ledger show acme/llama-sft"},
       1, 1, kLedgerExitStatusText},
      {"ledger lineage",
       "Draw a model's lineage with compute at each node, and the verdicts",
       "flopsmeter ledger lineage MODEL [--json]",
       "The tree from the model back to its bases: each node's own compute and runs, the cumulative sums (a shared "
       "ancestor counted once), the organisation's own modifications since the original model (summed, the cautious "
       "reading, with the single-run reading beside it) and every regime's verdict on those figures.",
       {"ledger", "data-dir", "json"},
       {"flopsmeter ledger lineage acme/llama-dpo"},
       1, 1, kLedgerExitStatusText},
      {"ledger runs",
       "List the runs in the ledger (of one model)",
       "flopsmeter ledger runs [MODEL] [--json]",
       "Each run's entry, model, status and compliance figure; superseded records are named.",
       {"ledger", "json"},
       {"flopsmeter ledger runs", "flopsmeter ledger runs acme/llama-sft --json"},
       0, 1, kLedgerExitStatusText},
      {"ledger head",
       "Print the ledger's current signed tree head",
       "flopsmeter ledger head",
       "The head (size, root hash, time, key, signature, public key) to hand to an auditor, publish or keep: "
       "`ledger verify --head` later proves the ledger extends it. It is JSON (flopsmeter.tree_head/1), with or "
       "without --json.",
       {"ledger", "json"},
       {"flopsmeter ledger head > head-2026-12.json"},
       0, 0, kLedgerExitStatusText},
      {"ledger verify",
       "Recompute every leaf, the tree and every signature; name the first bad entry",
       "flopsmeter ledger verify [--head OLD_HEAD.json] [--trusted-key KEYS] [--json]",
       "Trusts nothing the database says about hashes: each entry's leaf is recomputed from its text, the tree "
       "rebuilt and held against every signed head, each signature checked. With --head, a consistency proof that "
       "the ledger extends the head you kept. Exits 1 when anything is wrong.",
       {"ledger", "head", "trusted-key", "json"},
       {"flopsmeter ledger verify", "flopsmeter ledger verify --head head-2026-12.json"},
       0, 0, kLedgerVerifyExitStatusText},
      {"ledger prove",
       "Print an inclusion proof of an entry, checkable with no database",
       "flopsmeter ledger prove ENTRY",
       "The entry, its audit path (RFC 6962) and the signed head it leads to: `flopsmeter verify-proof` checks it "
       "anywhere. It is JSON (flopsmeter.inclusion_proof/1), with or without --json.",
       {"ledger", "json"},
       {"flopsmeter ledger prove 12 > entry-12.proof.json"},
       1, 1, kLedgerExitStatusText},
      {"ledger annotate",
       "Append a note about an entry, or a correction that supersedes it",
       "flopsmeter ledger annotate ENTRY --note TEXT [--supersedes]",
       "History is never rewritten: a correction is a new entry; the entry it supersedes no longer counts and stays "
       "visible.",
       {"ledger", "ledger-key", "note", "supersedes", "json"},
       {"flopsmeter ledger annotate 7 --note 'rerun with the right tokenizer: see entry 9' --supersedes"},
       1, 1, kLedgerExitStatusText},
      {"verify-proof",
       "Check an inclusion proof from `ledger prove`, with no database",
       "flopsmeter verify-proof PROOF.json [--trusted-key PUBLIC_KEY]",
       "Recomputes the entry's leaf, follows its audit path to the head's root, and checks the head's Ed25519 "
       "signature under the key it names (or the key you trust). Exits 1 when the proof does not verify (forged or "
       "altered), 2 when it cannot be read.",
       {"trusted-key", "json"},
       {"flopsmeter verify-proof entry-12.proof.json",
        "flopsmeter verify-proof entry-12.proof.json --trusted-key ed25519:963d261e... --json"},
       1, 1, kVerifyProofExitStatusText},
  };
  return kCommands;
}

std::string cli_spelling(std::string_view text) {
  static constexpr std::string_view kOpen = "option \"";
  std::string out;
  out.reserve(text.size());
  size_t at = 0;
  for (size_t found; (found = text.find(kOpen, at)) != std::string_view::npos;) {
    const size_t name_start = found + kOpen.size();
    const size_t name_end = text.find('"', name_start);
    if (name_end == std::string_view::npos) break;
    const std::string name(text.substr(name_start, name_end - name_start));
    out.append(text.substr(at, found - at));
    if (find_flag(name) != nullptr) {
      out += "--" + name;
    } else {
      out.append(text.substr(found, name_end + 1 - found));
    }
    at = name_end + 1;
  }
  out.append(text.substr(at));
  return out;
}

const FlagDef* find_flag(const std::string& name) {
  for (const FlagDef& f : all_flags())
    if (f.name == name) return &f;
  return nullptr;
}

const CommandDef* find_command(const std::string& name) {
  for (const CommandDef& c : all_commands())
    if (c.name == name) return &c;
  return nullptr;
}

namespace {

// `text` then spaces to `width` columns (at least one).
std::string padded(const std::string& text, size_t width) {
  return text + std::string(text.size() < width ? width - text.size() : 1, ' ');
}

// A placeholder in brackets ("[REGIMES]") marks a value that may be left out.
bool takes_optional_value(const FlagDef& f) { return f.value.size() > 2 && f.value.front() == '['; }

// The next argument is an optional value only when it reads as a list of
// ids ("eu_modification,us_ca_sb53", "all"), never as a model or a path.
bool looks_like_id_list(const std::string& arg) {
  if (arg == "all") return true;
  bool any_underscore = false;
  for (size_t start = 0; start <= arg.size();) {
    const size_t comma = std::min(arg.find(',', start), arg.size());
    const std::string item = arg.substr(start, comma - start);
    if (item.empty() || !std::islower(static_cast<unsigned char>(item[0]))) return false;
    for (char c : item) {
      if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) && c != '_') {
        return false;
      }
      any_underscore = any_underscore || c == '_';
    }
    start = comma + 1;
  }
  return any_underscore;
}

// Short spellings of a few flags, as every tool that writes a file has -o.
const std::map<std::string, std::string>& short_flags() {
  static const std::map<std::string, std::string> kShort = {{"-o", "output"}};
  return kShort;
}

}  // namespace

Result<ParsedArgs> parse_args(const CommandDef& command, const std::vector<std::string>& given) {
  std::vector<std::string> args = given;
  for (std::string& a : args) {
    if (a == "--") break;
    if (auto it = short_flags().find(a); it != short_flags().end()) a = "--" + it->second;
  }
  ParsedArgs out;
  auto accepts = [&](const std::string& name) {
    return std::find(command.flags.begin(), command.flags.end(), name) != command.flags.end();
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {  // the rest is taken verbatim: a command line (watch -- COMMAND ARGS...)
      out.positional.insert(out.positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i + 1), args.end());
      break;
    }
    if (a == "-h") {
      out.help_short = true;
      continue;
    }
    if (a == "--help") {
      out.help_long = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      if (!a.empty() && a[0] == '-' && a != "-") {
        return Status::InvalidArgument("unknown option '" + a + "' (options are spelled --name)");
      }
      out.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const FlagDef* def = find_flag(name);
    if (def == nullptr || !accepts(name)) {
      std::vector<std::string> near = closest_names(name, command.flags, 2);
      std::string msg = "'" + command.name + "' has no option --" + name;
      if (!near.empty()) msg += "; did you mean --" + near[0] + (near.size() > 1 ? " or --" + near[1] : "") + "?";
      return Status::InvalidArgument(msg + " (flopsmeter " + command.name + " -h lists them)");
    }
    if (takes_optional_value(*def)) {
      if (!inline_value && i + 1 < args.size() && looks_like_id_list(args[i + 1])) value = args[++i];
    } else if (def->value.empty()) {
      if (inline_value) return Status::InvalidArgument("--" + name + " takes no value");
    } else if (!inline_value) {
      if (i + 1 >= args.size()) return Status::InvalidArgument("--" + name + " needs a value (" + def->value + ")");
      value = args[++i];
    }
    if (out.values.count(name)) return Status::InvalidArgument("--" + name + " given twice");
    out.values[name] = value;
  }
  if (out.help_short || out.help_long) return out;
  if (out.positional.size() < command.positional_min || out.positional.size() > command.positional_max) {
    if (out.positional.size() > command.positional_max) {
      return Status::InvalidArgument("unexpected argument '" + out.positional[command.positional_max] + "'; usage: " +
                                     command.usage);
    }
    return Status::InvalidArgument("missing argument; usage: " + command.usage);
  }
  return out;
}

namespace {

std::string flag_label(const FlagDef& f) {
  if (takes_optional_value(f)) return "--" + f.name + "[=" + f.value.substr(1, f.value.size() - 2) + "]";
  std::string short_form;
  for (const auto& [spelling, name] : short_flags())
    if (name == f.name) short_form = spelling + ", ";
  return short_form + "--" + f.name + (f.value.empty() ? "" : " " + f.value);
}

// Wraps prose at `width` columns with `indent` spaces.
std::string wrap(const std::string& text, size_t indent, size_t width = 88) {
  std::istringstream words(text);
  std::string word, line, out;
  while (words >> word) {
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out += std::string(indent, ' ') + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out += std::string(indent, ' ') + line + "\n";
  return out;
}

std::string flags_section(const CommandDef& c, bool long_form) {
  std::string out;
  std::vector<std::string> categories;
  for (const std::string& name : c.flags) {
    const FlagDef* f = find_flag(name);
    if (std::find(categories.begin(), categories.end(), f->category) == categories.end())
      categories.push_back(f->category);
  }
  for (const std::string& cat : categories) {
    out += "\n" + cat + ":\n";
    for (const std::string& name : c.flags) {
      const FlagDef* f = find_flag(name);
      if (f->category != cat) continue;
      std::string label = flag_label(*f);
      if (long_form) {
        out += "  " + label + "\n" + wrap(f->summary + (f->details.empty() ? "" : ". " + f->details), 6);
      } else {
        out += "  " + label + std::string(label.size() < 30 ? 30 - label.size() : 1, ' ') + f->summary + "\n";
      }
    }
  }
  return out;
}

}  // namespace

std::string short_help(const CommandDef& c) {
  return c.summary + "\n\nUsage: " + c.usage + "\n" + flags_section(c, false) +
         "\nExample:\n  " + c.examples.front() + "\n\nUse --help for details.\n";
}

std::string long_help(const CommandDef& c) {
  std::string out = c.summary + "\n\nUsage: " + c.usage + "\n\n" + wrap(c.description, 0) + flags_section(c, true);
  out += "\nExit status: " + std::string(c.exit_status != nullptr ? c.exit_status : kExitStatusText) + "\n";
  out += "\nExamples:\n";
  for (const std::string& e : c.examples) out += "  " + e + "\n";
  return out;
}

std::string group_help(const std::string& group) {
  std::string out = "flopsmeter " + group + ": the audit ledger of models and runs (docs/ledger.md)\n\n"
                    "Usage: flopsmeter " + group + " COMMAND [options]\n\nCommands:\n";
  for (const CommandDef& c : all_commands()) {
    if (c.name.rfind(group + " ", 0) != 0) continue;
    out += "  " + padded(c.name.substr(group.size() + 1), 10) + c.summary + "\n";
  }
  return out + "\n  flopsmeter " + group + " COMMAND --help   explains a command with examples\n";
}

std::string top_level_help(bool long_form) {
  std::string out =
      "flopsmeter: meter the training compute of LLM fine-tuning and where it stands under compute-based AI rules\n\n"
      "Usage: flopsmeter COMMAND [options]\n\nCommands:\n";
  for (const CommandDef& c : all_commands()) {
    if (c.name.find(' ') != std::string::npos) continue;  // a group's, listed by `GROUP --help`
    out += "  " + padded(c.name, 14) + c.summary + "\n";
  }
  out += "  " + padded("ledger", 14) + "The audit ledger: models, runs, lineage, signed heads, proofs (ledger --help)\n";
  out += "\n  flopsmeter COMMAND --help   explains a command with examples\n  flopsmeter --version\n";
  if (long_form) {
    out += "\nEnvironment: PRETRAIN_FLOPS (base compute, as the AWS toolkit), FLOPSMETER_DATA_DIR (data overrides),\n"
           "FLOPSMETER_LEDGER, FLOPSMETER_LEDGER_KEY, FLOPSMETER_ORGANISATION (the ledger).\n"
           "Exit status: " + std::string(kExitStatusText) + "\n"
           "Documentation: docs/ (formulas.md derives every formula with sources).\n";
  }
  out += "\nExample:\n  flopsmeter estimate --model meta-llama/Llama-3.2-3B-Instruct --method full,lora --tokens 5e7\n";
  return out;
}

}  // namespace flopsmeter::cli
