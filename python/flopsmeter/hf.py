"""Hugging Face Trainer / TRL integration: FlopsMeterCallback, metered_trainer
and maybe_callback (the AWS recipe flag `compute_flops: true`).

    from flopsmeter.hf import FlopsMeterCallback, metered_trainer
    callback = FlopsMeterCallback(budget_fraction=0.9)
    trainer = metered_trainer(SFTTrainer)(model=model, args=args, train_dataset=ds,
                                          callbacks=[callback])
    trainer.train()      # flops_meter.json in args.output_dir (or FLOPS_METER_OUT)

With a trainer class that cannot be changed, pass the callback as usual and
call put_before_reporting(trainer) before train(), so that the flops metrics
reach TensorBoard, W&B, ...

The module imports without transformers: the callback then derives from a
stand-in with the same method names, which is all the Trainer relies on.
"""

import json
import logging
import os

from .meter import Meter, meter_options
from .model_info import model_options

try:
    from transformers import TrainerCallback as _TrainerCallback
    from transformers.trainer_callback import DefaultFlowCallback as _FlowCallback
except ImportError:
    class _TrainerCallback:
        """Stand-in for transformers.TrainerCallback: every event, doing nothing."""

    class _FlowCallback(_TrainerCallback):
        """Stand-in for transformers' DefaultFlowCallback, which decides at
        each step whether the Trainer logs, evaluates, saves or stops."""

    for _event in ("on_init_end", "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                   "on_step_begin", "on_pre_optimizer_step", "on_optimizer_step", "on_substep_end",
                   "on_step_end", "on_evaluate", "on_predict", "on_save", "on_log", "on_prediction_step"):
        setattr(_TrainerCallback, _event, lambda self, args, state, control, **kwargs: None)
    del _event

logger = logging.getLogger("flopsmeter")

# The AWS FlopsMeterCallback's constructor arguments, as library options.
_AWS_ARGUMENTS = {"pretrain_flops": "pretrain-flops", "sample_nvml": "nvml", "model_name": "model-name",
                  "num_epochs": "epochs"}


class FlopsMeterCallback(_TrainerCallback):
    """Meters a Trainer's run: counts after the PEFT wrap, tokens from each
    batch's attention_mask (through metered_trainer or wrap_collator), the
    budget guard, a journal line at every checkpoint, flops_meter.json at the
    end.

    run_dir: the run directory (journals); default FLOPS_METER_RUN_DIR, else
    OUTPUT_DIR/flops_meter_run. pad_token_id / eos_token_id: only for batches
    without attention_mask (default: the tokenizer's). The AWS arguments
    pretrain_flops, sample_nvml, n_total, n_trainable, model_name and
    num_epochs are accepted; n_total / n_trainable are only used when the
    Trainer passes no model, since counts taken before the PEFT wrap were the
    AWS meter's defect. Other keyword arguments are meter options
    (flopsmeter.Meter), e.g. budget_fraction=0.9, and win over what the
    callback derives.
    """

    def __init__(self, run_dir=None, *, pad_token_id=None, eos_token_id=None, n_total=None, n_trainable=None,
                 sync_every=None, **options):
        self.run_dir = run_dir
        self.pad_token_id = pad_token_id
        self.eos_token_id = eos_token_id
        self.sync_every = sync_every
        self.given_counts = {"n-total": n_total, "n-trainable": n_trainable}
        self.options = meter_options({_AWS_ARGUMENTS.get(key, key): value for key, value in options.items()})
        self.meter = None
        self.record = None

    # --- Trainer events --------------------------------------------------

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        run_dir = self.run_dir or os.environ.get("FLOPS_METER_RUN_DIR") or os.path.join(args.output_dir,
                                                                                        "flops_meter_run")
        options = self._options_from_model(model, run_dir)
        options.update(self._options_from_arguments(args, state))
        options.update(self.options)
        self._adopt_tokenizer_ids(kwargs.get("processing_class") or kwargs.get("tokenizer"))
        self.record = None
        self.meter = Meter(run_dir, options, sync_every=self.sync_every)

    def on_step_end(self, args, state, control, **kwargs):
        # The Trainer decided in DefaultFlowCallback.on_step_end (called
        # first) whether this step logs, evaluates (its metrics are logged),
        # saves or is the last: those are the sync points, and the steps
        # whose compute figures the logs report (flops_metrics).
        figures = any(getattr(control, flag, False) for flag in ("should_log", "should_evaluate",
                                                                 "should_training_stop"))
        if figures or getattr(control, "should_save", False):
            self.meter.sync()
        budget = self.meter.step(state.global_step, figures=figures)
        for warning in budget.get("new_warnings", []):
            logger.warning("flopsmeter: %s", warning)
        if budget.get("stop"):
            if control.should_training_stop:
                pass  # the run ends at this step anyway
            elif "compute_flop" in budget:
                logger.warning("flopsmeter: compute %s FLOP; one more step would exceed the budget %s: "
                               "saving a checkpoint and stopping", budget["compute_flop"], budget["budget_flop"])
            else:  # this rank's guard was quiet; another rank's says stop
                logger.warning("flopsmeter: another rank's budget guard says stop: saving a checkpoint and stopping")
            control.should_training_stop = True
            control.should_save = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        # The Trainer hands every callback the same dict in turn, so the
        # reporting integrations see these only when this callback comes
        # before them (put_before_reporting).
        if logs is not None:
            for key, value in self.flops_metrics().items():
                logs.setdefault(key, value)

    def on_save(self, args, state, control, **kwargs):
        checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.meter.checkpoint(state.global_step, checkpoint)

    def on_train_end(self, args, state, control, **kwargs):
        meter, self.meter = self.meter, None
        self.record = meter.end(global_step=state.global_step)
        if getattr(state, "is_world_process_zero", True) and self.record:
            logger.info("flopsmeter: run %s: %s tokens", self.record.get("status"),
                        self.record.get("tokens_processed"))

    # --- tokens ----------------------------------------------------------

    def observe_batch(self, batch):
        """Counts one micro-batch (a dict of tensors as the model receives it)."""
        if self.meter is None:
            raise RuntimeError("FlopsMeterCallback.observe_batch before on_train_begin: the run has not begun")
        self.meter.add_batch(pad_token_id=self.pad_token_id, eos_token_id=self.eos_token_id, **batch)

    def wrap_collator(self, collate_fn):
        """collate_fn counting every batch it makes, for loops that cannot use
        metered_trainer. Counts what is collated: keep the DataLoader's
        num_workers at 0 (a worker process cannot reach the meter, so it is an
        error there), and a run stopped early counts the batch accelerate
        prefetched."""
        def collate_and_count(features):
            import torch.utils.data

            if torch.utils.data.get_worker_info() is not None:
                raise RuntimeError("FlopsMeterCallback.wrap_collator runs in a DataLoader worker process, which "
                                   "cannot reach the meter: set dataloader_num_workers=0 or use metered_trainer")
            batch = collate_fn(features)
            self.observe_batch(batch)
            return batch

        return collate_and_count

    def flops_metrics(self):
        """{"flops/compute", "flops/budget_fraction" (with a budget),
        "flops/threshold_fraction"} as of the last step that read them (the
        steps that log, evaluate or end training, the first step, and with a
        budget the steps that raise a warning or say stop); {} before one."""
        state = self.meter.last_state if self.meter is not None else None
        if state is None:
            return {}
        metrics = {"flops/compute": float(state["compute_flop"]),
                   "flops/threshold_fraction": state["threshold_fraction"]}
        if state.get("budget_flop") is not None:
            metrics["flops/budget_fraction"] = state["budget_fraction"]
        return metrics

    def end_after(self, exception):
        """Ends the run that `exception` broke off (status failed or interrupted)."""
        meter, self.meter = self.meter, None
        if meter is not None:
            meter.end_after(exception)

    # --- options ---------------------------------------------------------

    def _options_from_model(self, model, run_dir):
        given = {key: value for key, value in self.given_counts.items() if value is not None}
        if model is None:
            return given
        options = model_options(model, config_dir=run_dir)
        for key, value in given.items():
            if value != options[key]:
                logger.warning("flopsmeter: %s=%d given, but the model as it trains (after the PEFT wrap) "
                               "has %d; using %d", key, value, options[key], options[key])
        return options

    @staticmethod
    def _options_from_arguments(args, state):
        options = {}
        if getattr(args, "gradient_checkpointing", False):
            options["gradient-checkpointing"] = True
        epochs = getattr(args, "num_train_epochs", None)
        # With max_steps set the Trainer ignores num_train_epochs.
        if getattr(args, "max_steps", -1) <= 0 and epochs is not None and float(epochs).is_integer():
            options["epochs"] = int(epochs)
        run_name = getattr(args, "run_name", None)
        # On SageMaker TRAINING_JOB_NAME names the job (the library reads it);
        # run_name defaults to output_dir, which names nothing.
        if run_name and run_name != args.output_dir and not os.environ.get("TRAINING_JOB_NAME"):
            options["job-name"] = run_name
        if not os.environ.get("FLOPS_METER_OUT"):  # the library reads the variable itself
            # The Trainer makes output_dir only when it saves; the record is written at the end.
            os.makedirs(args.output_dir, exist_ok=True)
            options["out"] = os.path.join(args.output_dir, "flops_meter.json")
        if state.global_step > 0:
            options["resume-step"] = state.global_step
        if state.global_step > 0 or getattr(args, "resume_from_checkpoint", None):
            options["resume"] = True
        return options

    def _adopt_tokenizer_ids(self, tokenizer):
        tokenizer = getattr(tokenizer, "tokenizer", tokenizer)  # a processor wraps its tokenizer
        if self.pad_token_id is None:
            self.pad_token_id = getattr(tokenizer, "pad_token_id", None)
        if self.eos_token_id is None:
            self.eos_token_id = getattr(tokenizer, "eos_token_id", None)


def put_before_reporting(trainer):
    """Moves the trainer's FlopsMeterCallback ahead of the reporting
    integrations (TensorBoard, W&B, ...), right after the Trainer's
    DefaultFlowCallback, and returns it.

    The Trainer registers its integrations before the user's callbacks and
    gives each callback's on_log the same logs dict in turn, so a
    FlopsMeterCallback left in place adds its metrics after TensorBoard has
    written them. It stays after DefaultFlowCallback, whose on_step_end
    decides the logging and saving that the meter's on_step_end reads.
    Raises ValueError unless the trainer has exactly one FlopsMeterCallback.
    """
    callbacks = trainer.callback_handler.callbacks
    meters = [c for c in callbacks if isinstance(c, FlopsMeterCallback)]
    if len(meters) != 1:
        raise ValueError(f"{type(trainer).__name__} needs exactly one FlopsMeterCallback in callbacks=[...]; "
                         f"found {len(meters)}")
    callbacks.remove(meters[0])
    after_flow = max((index + 1 for index, c in enumerate(callbacks) if isinstance(c, _FlowCallback)), default=0)
    callbacks.insert(after_flow, meters[0])
    return meters[0]


def metered_trainer(trainer_class):
    """A subclass of `trainer_class` (Trainer, SFTTrainer, ...) that counts
    every micro-batch it trains on, puts its FlopsMeterCallback before the
    reporting integrations (put_before_reporting) and the flops metrics into
    every logs dict, and ends the run as failed or interrupted when train()
    raises. Give it a FlopsMeterCallback in callbacks=[...]."""

    class MeteredTrainer(trainer_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.flops_meter_callback = put_before_reporting(self)

        def training_step(self, model, inputs, *args, **kwargs):
            self.flops_meter_callback.observe_batch(inputs)
            return super().training_step(model, inputs, *args, **kwargs)

        def log(self, logs, *args, **kwargs):
            # Before Trainer.log copies the logs into state.log_history
            # (trainer_state.json), which on_log comes too late for.
            logs.update(self.flops_meter_callback.flops_metrics())
            return super().log(logs, *args, **kwargs)

        def train(self, *args, **kwargs):
            try:
                return super().train(*args, **kwargs)
            except BaseException as exception:
                self.flops_meter_callback.end_after(exception)
                raise

    MeteredTrainer.__name__ = MeteredTrainer.__qualname__ = "Metered" + trainer_class.__name__
    return MeteredTrainer


def read_recipe(path):
    """A recipe YAML's top-level settings (a dict). With PyYAML absent, only
    top-level `key: value` lines are read, enough for compute_flops."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        import yaml
    except ImportError:
        settings = {}
        for line in text.splitlines():
            key, colon, value = line.partition(":")
            if colon and line[:1] not in ("", " ", "\t", "#", "-"):
                settings[key.strip()] = value.split(" #")[0].strip().strip("'\"")
        return settings
    return yaml.safe_load(text) or {}


def maybe_callback(recipe, **callback_options):
    """A FlopsMeterCallback when the recipe (a dict, or the path of its YAML)
    says `compute_flops: true`, else None, as the AWS sft.py decides. The
    recipe is named and hashed in the record (a path) and kept as its
    recipe details; its model_name_or_path is the record's model name."""
    settings = recipe if isinstance(recipe, dict) else read_recipe(recipe)
    if str(settings.get("compute_flops", False)).lower() not in ("true", "yes", "1", "on"):
        return None
    options = {"recipe-details": json.loads(json.dumps(settings, default=str))}
    if not isinstance(recipe, dict):
        options["recipe"] = os.fspath(recipe)
    if settings.get("model_name_or_path"):
        options["model-name"] = str(settings["model_name_or_path"])
    options.update(callback_options)
    return FlopsMeterCallback(**options)
