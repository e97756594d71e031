"""Hugging Face Trainer / TRL integration: FlopsMeterCallback, metered_trainer
and maybe_callback (the AWS recipe flag `compute_flops: true`).

    from flopsmeter.hf import FlopsMeterCallback, metered_trainer
    callback = FlopsMeterCallback(budget_fraction=0.9)
    trainer = metered_trainer(SFTTrainer)(model=model, args=args, train_dataset=ds,
                                          callbacks=[callback])
    trainer.train()      # flops_meter.json in args.output_dir (or FLOPS_METER_OUT)

The callback alone (callbacks=[callback] on a stock trainer) counts the
batches of the train_dataloader the Trainer hands its events; call
put_before_reporting(trainer) before train() so that the flops metrics reach
TensorBoard, W&B, ... metered_trainer does that and counts in training_step.

The module imports without transformers: the callback then derives from a
stand-in with the same method names, which is all the Trainer relies on.
"""

import collections
import functools
import json
import logging
import os
import sys

from . import _native
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


# accelerate's DataLoaderShard and DataLoaderDispatcher report the class of the
# DataLoader they wrap through a read-only __class__ property (DataLoaderAdapter in
# https://github.com/huggingface/accelerate/blob/main/src/accelerate/data_loader.py),
# so a loader's class is set through object's own descriptor.
_set_class = object.__dict__["__class__"].__set__


@functools.lru_cache(maxsize=None)
def _counted_class(loader_class):
    """`loader_class` telling the callback of each batch as it hands it to
    the training loop, in the training process: after DataLoader workers
    collate it and accelerate places it on the device, the batch accelerate's
    DataLoaderShard fetches one ahead only once it is handed over, and in
    every epoch's fresh iterator. A subclass adding no slots, so that a
    loader's class can be switched to it and back."""

    def __iter__(self):
        fetched = self._flopsmeter_fetched
        for batch in loader_class.__iter__(self):
            fetched(batch)
            yield batch

    name = "Counted" + loader_class.__name__
    return type(name, (loader_class,), {"__slots__": (), "__iter__": __iter__, "__module__": __name__,
                                        "__qualname__": name})


def _never_raises(handler):
    """A Trainer event that never raises: the meter must not stop the job it
    meters (only the budget guard does, through `control`). An error (the
    library's I/O error on a full disk, an ended meter, ...) is logged as a
    warning and training goes on."""

    @functools.wraps(handler)
    def contained(self, args, state, control, **kwargs):
        try:
            return handler(self, args, state, control, **kwargs)
        except Exception as error:  # any error: the job matters more than its record
            if handler.__name__ == "on_train_begin" and self.meter is None:
                self._warn_once(f"the run could not begin ({error}): training goes on UNMETERED and no "
                                "flops_meter.json is written")
            else:
                self._warn_once(f"{handler.__name__} failed ({type(error).__name__}: {error}); training goes on, "
                                "and the run's record may miss what this event does")
            return None

    return contained


class _RunCounts:
    """One run's count of the batches that reached the meter, for the checks
    at train end."""

    def __init__(self, args, state):
        self.first_step = state.global_step  # steps before it were trained by an earlier segment
        self.tokens_seen = getattr(state, "num_input_tokens_seen", None)  # the Trainer's count at train begin
        self.counted = 0  # batches counted
        self.tokens_from_trainer = False  # no batch counted: num_input_tokens_seen gave the tokens
        self.end_notes = []  # observations for the record's notes, passed to the meter's end
        self.uncounted = 0  # batches whose counting failed
        self.since_step = 0  # batches that reached the counting place since the last optimizer step
        self.steps_without_batches = 0
        # Batches the train_dataloader handed over that have not trained yet:
        # at most a gradient-accumulation window, which the Trainer fetches
        # whole (0: counted as fetched).
        self.fetched = collections.deque()
        self.window = max(getattr(args, "gradient_accumulation_steps", 1), 1)


class FlopsMeterCallback(_TrainerCallback):
    """Meters a Trainer's run: counts after the PEFT wrap, tokens from each
    batch's attention_mask, the budget guard, a journal line at every
    checkpoint, flops_meter.json at the end.

    Each batch is counted in exactly one place, chosen at train begin:
    training_step under metered_trainer; else the train_dataloader the
    Trainer hands its events (a stock Trainer or SFTTrainer); else a collator
    made by wrap_collator; else observe_batch by hand. When none counted a
    batch, the Trainer's num_input_tokens_seen (include_num_input_tokens_seen)
    gives the tokens at train end. The events never raise: the meter's errors
    are logged and training goes on.

    run_dir: the run directory (journals); default FLOPSMETER_RUN_DIR (or
    FLOPS_METER_RUN_DIR), else
    OUTPUT_DIR/flops_meter_run. pad_token_id / eos_token_id: only for batches
    without attention_mask (default: the tokenizer's). The AWS arguments
    pretrain_flops, sample_nvml, n_total, n_trainable, model_name and
    num_epochs are accepted; n_total / n_trainable, when given, win over the
    model's own count (FSDP1 shows a rank its shard), with a warning when they
    differ from it: counts taken before the PEFT wrap were the AWS meter's
    defect, so give them only when the model cannot be counted. Other keyword
    arguments are meter options
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
        self._counted_by_trainer = False  # set by metered_trainer, which counts in training_step
        self._collator_wrapped = False
        # Where this run's batches are counted ("training_step", "dataloader",
        # "collator", "observe_batch"); None before train begin.
        self._batch_source = None
        self._run = None  # _RunCounts, from train begin
        self._counted_loaders = []  # (loader, its own class) counting for this run
        self._wrapped_skip_module = None  # transformers.trainer while its skip_first_batches counts
        self._warnings = collections.Counter()
        # trainer.train() called again (a notebook): the FLOP the model in
        # memory was trained with by this callback's earlier runs, exactly,
        # or None once one of them was undetermined.
        self._earlier_runs_flop = 0
        self._train_calls = 0

    # --- Trainer events --------------------------------------------------

    @_never_raises
    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        self._stop_counting()  # a train() that raised never reached train end
        resuming = state.global_step > 0 or bool(getattr(args, "resume_from_checkpoint", None))
        if self._train_calls > 0 and not resuming:
            self._carry_earlier_run(self.record)
        self._train_calls += 1
        self.record = None
        self.meter = None
        self._batch_source = None
        self._warnings.clear()
        self._run = _RunCounts(args, state)
        run_dir = self._run_directory(args, resuming)
        options = self._options_from_model(model, run_dir)
        options.update(self._options_from_arguments(args, state))
        options.update(self.options)
        options.update(self._earlier_runs_options(options))
        self._adopt_tokenizer_ids(kwargs.get("processing_class") or kwargs.get("tokenizer"))
        self.meter = Meter(run_dir, options, sync_every=self.sync_every)
        self._batch_source = self._choose_batch_source(train_dataloader, resumed=state.global_step > 0)

    @_never_raises
    def on_substep_end(self, args, state, control, **kwargs):
        if self._batch_source == "dataloader":
            self._trained_one()

    @_never_raises
    def on_step_end(self, args, state, control, **kwargs):
        if self.meter is None:
            return
        run = self._run
        if self._batch_source == "dataloader":
            self._trained_one()
            if run.fetched:  # a loop that does not tell of every micro-batch: count its batches as fetched
                run.window = 0
                while run.fetched:
                    self._count(run.fetched.popleft(), "dataloader")
        if run.since_step == 0:
            run.steps_without_batches += 1
            if run.steps_without_batches == 1:
                logger.warning("flopsmeter: optimizer step %d ran without a batch reaching the meter (counted in %s): "
                               "its tokens are missing from the run's count", state.global_step,
                               self._batch_source)
        run.since_step = 0
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

    @_never_raises
    def on_log(self, args, state, control, logs=None, **kwargs):
        # The Trainer hands every callback the same dict in turn, so the
        # reporting integrations see these only when this callback comes
        # before them (put_before_reporting).
        if logs is not None:
            for key, value in self.flops_metrics().items():
                logs.setdefault(key, value)

    @_never_raises
    def on_save(self, args, state, control, **kwargs):
        if self.meter is None:
            return
        checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.meter.checkpoint(state.global_step, checkpoint)

    @_never_raises
    def on_train_end(self, args, state, control, **kwargs):
        meter, self.meter = self.meter, None
        if meter is None:
            return
        trainer_count = self._trainer_count(args, state)
        try:
            if self._run.counted == 0 and trainer_count is not None:
                self._adopt_trainer_count(meter, state, *trainer_count)
            self.record = meter.end(global_step=state.global_step, notes=self._run.end_notes)
        except Exception as error:  # as in any event: logged, and training (here, what follows it) goes on
            self._warn_once(f"on_train_end failed ({type(error).__name__}: {error}): no flops_meter.json is "
                            "written; the run's journal keeps it, as after a crash (flopsmeter.report finalises it)")
        finally:
            self._stop_counting()
            meter.close()
        self._check_counts(state, meter.world_totals, trainer_count)
        if getattr(state, "is_world_process_zero", True) and self.record:
            logger.info("flopsmeter: run %s: %s tokens", self.record.get("status"),
                        self.record.get("tokens_processed"))

    # --- tokens ----------------------------------------------------------

    def observe_batch(self, batch):
        """Counts one micro-batch by hand (a dict of tensors as the model
        receives it), for a loop the callback does not see: no metered_trainer,
        no train_dataloader handed to the events, no wrapped collator. Where
        one of those counts, the batch is not counted again (a warning says
        so once)."""
        if self._run is None:
            raise RuntimeError("FlopsMeterCallback.observe_batch before on_train_begin: the run has not begun")
        self._count(batch, "observe_batch")

    def wrap_collator(self, collate_fn):
        """collate_fn counting every batch it makes, for a loop whose Trainer
        hands its events no train_dataloader (with one, the callback counts
        the loader's batches and this collator only collates; under
        metered_trainer, training_step counts). Counts what is collated: keep
        the DataLoader's num_workers at 0 (a worker process cannot reach the
        meter, so it is an error there), and a run stopped early counts the
        batch accelerate prefetched."""
        self._collator_wrapped = True

        def collate_and_count(features):
            import torch.utils.data

            if self._batch_source != "collator":
                return collate_fn(features)
            if torch.utils.data.get_worker_info() is not None:
                raise RuntimeError("FlopsMeterCallback.wrap_collator runs in a DataLoader worker process, which "
                                   "cannot reach the meter: set dataloader_num_workers=0 or use metered_trainer")
            batch = collate_fn(features)
            self._count(batch, "collator")
            return batch

        return collate_and_count

    def _fetched(self, batch):
        """The train_dataloader handed `batch` to the training loop; it is
        counted once it has trained (_trained_one), or at once in a loop that
        does not tell of every micro-batch (found at a step's end)."""
        fetched = self._run.fetched
        fetched.append(batch)
        if len(fetched) > self._run.window:
            self._count(fetched.popleft(), "dataloader")

    def _trained_one(self):
        """A micro-batch trained: the Trainer sends on_substep_end or, for a
        window's last, on_step_end after each training_step. It is the oldest
        batch fetched, so a stop inside a window (a callback's
        should_training_stop at on_substep_end) leaves the window's rest
        uncounted, as untrained."""
        fetched = self._run.fetched
        if fetched:
            self._count(fetched.popleft(), "dataloader")

    def _count(self, batch, source):
        """Counts a micro-batch that reached `source`, when the run counts there."""
        if source != self._batch_source:
            if source == "observe_batch" and self._batch_source is not None:
                self._warn_once(f"observe_batch: this run counts its batches in {self._batch_source}; the batches "
                                "given by hand are not counted again")
            return
        run = self._run
        run.since_step += 1
        if self.meter is None:  # the run could not begin (warned)
            return
        try:
            self.meter.add_batch(pad_token_id=self.pad_token_id, eos_token_id=self.eos_token_id, **batch)
        except Exception as error:  # counting must not stop training either
            run.uncounted += 1
            self._warn_once(f"a batch could not be counted ({type(error).__name__}: {error}); training goes on "
                            "and the run's tokens miss it")
        else:
            run.counted += 1

    def _choose_batch_source(self, train_dataloader, resumed):
        """Where this run counts its batches: one place, so that none is
        counted twice (docs/python.md, section 3)."""
        if self._counted_by_trainer:
            return "training_step"
        if train_dataloader is not None:
            try:
                self._count_batches_of(train_dataloader)
            except TypeError as error:  # a loader whose class cannot be changed
                logger.warning("flopsmeter: the batches of the Trainer's train_dataloader cannot be counted (%s)",
                               error)
            else:
                if resumed:
                    self._count_resumed_epoch_loader()
                return "dataloader"
        return "collator" if self._collator_wrapped else "observe_batch"

    def _count_batches_of(self, loader):
        """Makes `loader` tell `_fetched` of each batch it hands over, until train end (_counted_class)."""
        own_class = type(loader)
        _set_class(loader, _counted_class(own_class))
        loader._flopsmeter_fetched = self._fetched
        self._counted_loaders.append((loader, own_class))

    def _count_resumed_epoch_loader(self):
        """On a resume inside an epoch, the Trainer iterates
        skip_first_batches(train_dataloader, n), a new loader accelerate
        builds of its own class, through transformers.trainer's global name
        (Trainer._inner_training_loop in transformers 4.4x to 5.x). That name is
        wrapped until train end so that the new loader counts too; a trainer
        that skips otherwise leaves steps without batches, which are
        warned about."""
        module = sys.modules.get("transformers.trainer")
        skip = getattr(module, "skip_first_batches", None)
        if skip is None:
            return
        skip = getattr(skip, "flopsmeter_skip", skip)  # a wrapper a raised train() left in place

        def skip_first_batches(dataloader, num_batches=0):
            skipped = skip(dataloader, num_batches)
            if any(dataloader is loader for loader, _ in self._counted_loaders):
                try:
                    self._count_batches_of(skipped)
                except TypeError as error:
                    self._warn_once(f"the resumed epoch's loader cannot count its batches ({error})")
            return skipped

        skip_first_batches.flopsmeter_skip = skip
        module.skip_first_batches = skip_first_batches
        self._wrapped_skip_module = module

    def _stop_counting(self):
        """Gives the counted loaders their own classes back, and
        transformers.trainer its skip_first_batches."""
        for loader, own_class in self._counted_loaders:
            _set_class(loader, own_class)
            del loader._flopsmeter_fetched
        self._counted_loaders.clear()
        if self._run is not None:
            self._run.fetched.clear()  # fetched, never trained
        module, self._wrapped_skip_module = self._wrapped_skip_module, None
        skip = getattr(module, "skip_first_batches", None)
        if hasattr(skip, "flopsmeter_skip"):
            module.skip_first_batches = skip.flopsmeter_skip

    # --- train end checks ------------------------------------------------

    def _trainer_count(self, args, state):
        """What the Trainer counted in this run, all ranks: (its
        num_input_tokens_seen's growth, "tokens" or "positions"), or None
        when it does not count. With include_num_input_tokens_seen=True or
        "all" it adds each micro-batch's main input numel (positions, padding
        included); "non_padding" adds attention_mask's sum (transformers PR
        https://github.com/huggingface/transformers/pull/40416). Both are
        gathered over the ranks (accelerator.gather)."""
        mode = getattr(args, "include_num_input_tokens_seen", False)
        seen = getattr(state, "num_input_tokens_seen", None)
        if mode in (False, None, "no") or seen is None or self._run.tokens_seen is None:
            return None
        return seen - self._run.tokens_seen, "tokens" if mode == "non_padding" else "positions"

    def _adopt_trainer_count(self, meter, state, figure, counts):
        """No batch was counted: the Trainer's own count is the run's tokens."""
        if figure <= 0:
            return
        if getattr(state, "is_world_process_zero", True):  # the figure is every rank's
            meter.add_counts(figure, figure)
        self._run.tokens_from_trainer = True
        what = "non-padding tokens" if counts == "tokens" else "positions of the main input, padding included"
        note = (f"no batch was counted in this run: its tokens are the Trainer's num_input_tokens_seen, "
                f"{figure} ({what}, all ranks), without sequence lengths or micro-batches; the budget "
                "guard had nothing to count while it ran")
        self._warn_once(note)
        self._run.end_notes.append(note)

    def _check_counts(self, state, world, trainer_count):
        """The warnings at train end: no tokens, steps without batches,
        batches not counted, a disagreement with the Trainer's count, and
        the errors logged once that came again."""
        run = self._run
        steps = state.global_step - run.first_step
        if steps > 0 and world is not None and world["tokens"] == 0:
            logger.warning("flopsmeter: %d optimizer steps and NO TOKENS COUNTED: flops_meter.json records no "
                           "training compute for this run. Count the batches (metered_trainer, a Trainer that hands "
                           "its events the train_dataloader, wrap_collator) or set "
                           "include_num_input_tokens_seen=\"non_padding\"", steps)
        elif run.steps_without_batches and not run.tokens_from_trainer:
            logger.warning("flopsmeter: %d of %d optimizer steps ran without a batch reaching the meter: the record "
                           "misses their tokens", run.steps_without_batches, steps)
        if run.uncounted:
            logger.warning("flopsmeter: %d of %d batches could not be counted: the record misses their tokens",
                           run.uncounted, run.uncounted + run.counted)
        if run.counted and trainer_count is not None and world is not None:
            figure, counts = trainer_count
            if world.get(counts) != figure:
                logger.warning("flopsmeter: the meter counted %s %s in this run, the Trainer's "
                               "num_input_tokens_seen grew by %d; the record keeps the meter's count of the batches "
                               "the model received (docs/python.md, section 3, says when they differ)",
                               world.get(counts), counts, figure)
        for message, times in self._warnings.items():
            if times > 1:
                logger.warning("flopsmeter: %s (%d times in this run)", message, times)

    def _warn_once(self, message):
        """Logs `message` as a warning the first time it comes in a run; the
        repeats are counted and summed up at train end."""
        self._warnings[message] += 1
        if self._warnings[message] == 1:
            logger.warning("flopsmeter: %s", message)

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
        self._stop_counting()
        if meter is not None:
            meter.end_after(exception)

    # --- trainer.train() again ---------------------------------------------

    def _run_directory(self, args, resuming):
        """The run directory, as the Trainer treats its output directory: a
        resumed train() (resume_from_checkpoint, or a global step above 0)
        continues the run there; a fresh train() is a new run, so where the
        default directory already holds one (an earlier train() of this
        notebook, or an earlier job with this output_dir, overwrite_output_dir
        or not) the next free flops_meter_run-N is used: a run is never
        overwritten. A run directory given explicitly is used as given."""
        given = self.run_dir or _native.env_setting("RUN_DIR")
        if given:
            return given
        base = os.path.join(args.output_dir, "flops_meter_run")
        if resuming or not _holds_run(base):
            return base
        number = max(2, self._train_calls)
        while _holds_run(f"{base}-{number}"):
            number += 1
        chosen = f"{base}-{number}"
        logger.warning("flopsmeter: %s already holds a run and this train() does not resume it "
                       "(resume_from_checkpoint): metering into %s", base, chosen)
        return chosen

    def _carry_earlier_run(self, record):
        """A fresh train() after an earlier one on this callback trains the
        model the earlier one left in memory: its compute is an earlier
        modification of this one."""
        if self._earlier_runs_flop is None:
            return
        exact = ((record or {}).get("compliance") or {}).get("exact")
        if exact is None:
            self._earlier_runs_flop = None
            return
        self._earlier_runs_flop += int(exact)

    def _earlier_runs_options(self, options):
        if self._train_calls < 2:
            return {}
        if self._earlier_runs_flop is None:
            return {"prior-modifications-undetermined":
                    "an earlier trainer.train() of this model in this process has no determined compute"}
        given = int(options.get("prior-modifications", 0) or 0)
        logger.info("flopsmeter: train() again: the model in memory carries %d FLOP of this callback's earlier "
                    "runs, counted as earlier modifications", self._earlier_runs_flop)
        return {"prior-modifications": given + self._earlier_runs_flop}

    # --- options ---------------------------------------------------------

    def _options_from_model(self, model, run_dir):
        given = {key: value for key, value in self.given_counts.items() if value is not None}
        if model is None:
            return given
        options = model_options(model, config_dir=run_dir)
        for key, value in given.items():
            # Given wins: under FSDP1 (flat parameters) a rank's model shows a
            # shard, and the caller knows the whole.
            if value != options[key]:
                logger.warning("flopsmeter: %s=%d given, while the model as it trains (after the PEFT wrap) "
                               "shows %d; using the given %d (give none to use the model's own count)",
                               key.replace("-", "_"), value, options[key], value)
            options[key] = value
        return options

    @staticmethod
    def _options_from_arguments(args, state):
        options = {}
        if getattr(args, "gradient_checkpointing", False):
            options["gradient-checkpointing"] = True
            # transformers passes these to torch.utils.checkpoint; use_reentrant
            # decides which layers are recomputed and differentiated.
            kwargs = getattr(args, "gradient_checkpointing_kwargs", None) or {}
            if kwargs.get("use_reentrant", True) is False:
                options["checkpoint-mode"] = "non-reentrant"
        epochs = getattr(args, "num_train_epochs", None)
        # With max_steps set the Trainer ignores num_train_epochs.
        if getattr(args, "max_steps", -1) <= 0 and epochs is not None and float(epochs).is_integer():
            options["epochs"] = int(epochs)
        run_name = getattr(args, "run_name", None)
        # On SageMaker TRAINING_JOB_NAME names the job (the library reads it);
        # run_name defaults to output_dir, which names nothing.
        if run_name and run_name != args.output_dir and not os.environ.get("TRAINING_JOB_NAME"):
            options["job-name"] = run_name
        if not _native.env_setting("OUT"):  # the library reads the variable itself
            # The Trainer makes output_dir only when it saves; the record is written at the end.
            os.makedirs(args.output_dir, exist_ok=True)
            options["out"] = os.path.join(args.output_dir, "flops_meter.json")
        # What bounds one optimizer step: with all three the budget guard
        # looks ahead by the costliest step they allow, so a run it stops
        # never exceeds its budget. TRL's SFTConfig names the truncation
        # length max_length (max_seq_length until its removal in TRL 0.20:
        # https://github.com/huggingface/trl/pull/3912); the plain Trainer has
        # none, and the guard then predicts from the costliest step so far.
        max_length = getattr(args, "max_length", None) or getattr(args, "max_seq_length", None)
        if isinstance(max_length, int) and max_length > 0:
            options["max-length"] = max_length
            options["micro-batch-size"] = max(int(getattr(args, "per_device_train_batch_size", 1) or 1), 1)
            options["grad-accum"] = max(int(getattr(args, "gradient_accumulation_steps", 1) or 1), 1)
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


def _holds_run(run_dir):
    """Whether a meter has begun in `run_dir` (it holds a rank's journal)."""
    try:
        return any(name.startswith("journal-rank") for name in os.listdir(run_dir))
    except OSError:
        return False


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
    every micro-batch in its training_step (the batches trained, whatever
    loader made them; the train_dataloader then counts nothing), puts its FlopsMeterCallback before the
    reporting integrations (put_before_reporting) and the flops metrics into
    every logs dict, and ends the run as failed or interrupted when train()
    raises. Give it a FlopsMeterCallback in callbacks=[...]."""

    class MeteredTrainer(trainer_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.flops_meter_callback = put_before_reporting(self)
            # training_step sees exactly the micro-batches trained, so the
            # callback leaves the train_dataloader alone.
            self.flops_meter_callback._counted_by_trainer = True

        def training_step(self, model, inputs, *args, **kwargs):
            self.flops_meter_callback._count(inputs, "training_step")
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
