"""The Hugging Face Trainer as its callbacks and its data see it, for tests
on a machine without transformers or accelerate: real torch DataLoaders, and
the Trainer's events with their arguments in the Trainer's order.

Followed sources (read, not copied):
- transformers Trainer._inner_training_loop and get_batch_samples (4.4x-4.5x;
  5.x splits the same loop into _run_epoch):
  https://github.com/huggingface/transformers/blob/main/src/transformers/trainer.py
  The dataloader is prepared before the loop and handed to every event as
  `train_dataloader`; each epoch calls iter() on it; a resume inside an epoch
  iterates skip_first_batches(train_dataloader, n), looked up as the module's
  global name; each optimizer step fetches its whole gradient-accumulation
  window first; num_input_tokens_seen adds each micro-batch's input_ids numel
  (include_num_input_tokens_seen=True / "all") or attention_mask sum
  ("non_padding", https://github.com/huggingface/transformers/pull/40416);
  DefaultFlowCallback decides logging, saving and the stop at max_steps.
- transformers CallbackHandler.call_event: every event gets model,
  processing_class, optimizer, lr_scheduler, train_dataloader,
  eval_dataloader and its own kwargs (logs for on_log):
  https://github.com/huggingface/transformers/blob/main/src/transformers/trainer_callback.py
- accelerate DataLoaderShard (what accelerator.prepare makes of the
  DataLoader): it iterates its DataLoader one batch ahead, places each batch
  on the device before handing it over, and (accelerate >= 0.30, as
  DataLoaderAdapter) reports its DataLoader's class through a read-only
  __class__ property; skip_first_batches builds a new loader of accelerate's
  own class over a SkipBatchSampler:
  https://github.com/huggingface/accelerate/blob/main/src/accelerate/data_loader.py
"""

import json
import math
import os
import sys
import types
from unittest import mock

import torch
from torch.utils.data import BatchSampler, DataLoader

from flopsmeter import hf


# --- accelerate ------------------------------------------------------------

def _one_batch_ahead(batches, device):
    """DataLoaderShard.__iter__: fetches the next batch before handing over
    the current one (to know which is the last), placing each on the device."""
    batches = iter(batches)
    try:
        current = next(batches)
    except StopIteration:
        return
    for following in batches:
        yield {key: value.to(device) for key, value in current.items()}
        current = following
    yield {key: value.to(device) for key, value in current.items()}


class DataLoaderShard:
    """accelerate's DataLoaderShard since 0.30: wraps a DataLoader
    (DataLoaderAdapter), delegates its attributes, and says it is one."""

    def __init__(self, base_dataloader, device="cpu"):
        self.base_dataloader = base_dataloader
        self.device = device
        self.batches_fetched = 0  # from the DataLoader, including the one fetched ahead

    def __getattr__(self, name):
        if name == "base_dataloader":
            raise AttributeError(name)
        return getattr(self.base_dataloader, name)

    @property
    def __class__(self):
        return self.base_dataloader.__class__

    def __len__(self):
        return len(self.base_dataloader)

    def __iter__(self):
        return _one_batch_ahead(self._fetch(), self.device)

    def _fetch(self):
        for batch in self.base_dataloader:
            self.batches_fetched += 1
            yield batch


class DataLoaderShardSubclass(DataLoader):
    """accelerate's DataLoaderShard before 0.30: a DataLoader subclass."""

    def __init__(self, dataset, device="cpu", **kwargs):
        super().__init__(dataset, **kwargs)
        self.device = device

    def __iter__(self):
        return _one_batch_ahead(super().__iter__(), self.device)


class SkipBatchSampler(BatchSampler):
    """accelerate's SkipBatchSampler: the batch sampler without its first batches."""

    def __init__(self, batch_sampler, skip_batches):  # as accelerate's, without BatchSampler's own state
        self.batch_sampler = batch_sampler
        self.skip_batches = skip_batches

    def __iter__(self):
        for index, samples in enumerate(self.batch_sampler):
            if index >= self.skip_batches:
                yield samples

    def __len__(self):
        return len(self.batch_sampler) - self.skip_batches


def skip_first_batches(dataloader, num_batches=0):
    """accelerate.skip_first_batches: a new loader, of accelerate's own class,
    over the same dataset without the first `num_batches` batches."""
    kwargs = {"batch_sampler": SkipBatchSampler(dataloader.batch_sampler, num_batches),
              "collate_fn": dataloader.collate_fn, "num_workers": dataloader.num_workers}
    if isinstance(dataloader, DataLoaderShard):
        return DataLoaderShard(DataLoader(dataloader.dataset, **kwargs), device=dataloader.device)
    if isinstance(dataloader, DataLoaderShardSubclass):
        return DataLoaderShardSubclass(dataloader.dataset, device=dataloader.device, **kwargs)
    return DataLoader(dataloader.dataset, **kwargs)



# --- transformers ----------------------------------------------------------

def training_arguments(output_dir, **overrides):
    """What the Trainer and FlopsMeterCallback read of TrainingArguments."""
    values = dict(num_train_epochs=1.0, max_steps=-1, gradient_accumulation_steps=1, per_device_train_batch_size=4,
                  dataloader_num_workers=0, gradient_checkpointing=False, run_name=output_dir,
                  resume_from_checkpoint=None, logging_steps=2, save_steps=2, include_num_input_tokens_seen="no",
                  ignore_data_skip=False)
    values.update(overrides)
    return types.SimpleNamespace(output_dir=output_dir, **values)


class FlowCallback(hf._FlowCallback):
    """DefaultFlowCallback.on_step_end: log and save every N steps; at
    max_steps stop, and save (save_strategy "steps")."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % args.logging_steps == 0:
            control.should_log = True
        if state.global_step % args.save_steps == 0:
            control.should_save = True
        if state.global_step >= state.max_steps:
            control.should_training_stop = True
            control.should_save = True


class Reporter(hf._TrainerCallback):
    """A reporting integration (TensorBoardCallback): writes what the logs
    hold when its on_log runs."""

    def __init__(self):
        self.written = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.written.append(dict(logs))


class CallbackHandler:
    """transformers.trainer_callback.CallbackHandler: the Trainer's default
    callbacks, then the integrations, then the user's; each event resets the
    flags the real handler resets and goes to each callback in turn."""

    def __init__(self, callbacks, model, processing_class, optimizer):
        self.callbacks = list(callbacks)
        self.model, self.processing_class, self.optimizer = model, processing_class, optimizer
        self.lr_scheduler = None
        self.train_dataloader = None
        self.eval_dataloader = None

    def event(self, name, args, state, control, **kwargs):
        resets = {"on_train_begin": ("should_training_stop",), "on_epoch_begin": ("should_epoch_stop",),
                  "on_step_begin": ("should_log", "should_evaluate", "should_save"), "on_log": ("should_log",),
                  "on_save": ("should_save",)}
        for flag in resets.get(name, ()):
            setattr(control, flag, False)
        for callback in self.callbacks:
            result = getattr(callback, name)(args, state, control, model=self.model,
                                             processing_class=self.processing_class, optimizer=self.optimizer,
                                             lr_scheduler=self.lr_scheduler, train_dataloader=self.train_dataloader,
                                             eval_dataloader=self.eval_dataloader, **kwargs)
            if result is not None:
                control = result
        return control


class Trainer:
    """Trainer.train's inner loop over `train_dataset` (rows) collated by
    `data_collator`, in order (a SequentialSampler, so that tests know which
    batches trained). `prepare` is what accelerator.prepare makes of the
    DataLoader: DataLoaderShard, DataLoaderShardSubclass or None (the
    DataLoader itself). `hands_over_dataloader=False` is a Trainer whose events
    carry no train_dataloader."""

    def __init__(self, model, args, train_dataset, data_collator=torch.utils.data.default_collate, callbacks=(),
                 reporting=(), processing_class=None, prepare=DataLoaderShard, hands_over_dataloader=True):
        self.model, self.args, self.train_dataset, self.data_collator = model, args, train_dataset, data_collator
        self.processing_class = processing_class
        self.prepare = prepare
        self.hands_over_dataloader = hands_over_dataloader
        self.optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
        self.callback_handler = CallbackHandler([FlowCallback(), *reporting, *callbacks], model, processing_class,
                                                self.optimizer)
        self.state = None
        self.control = types.SimpleNamespace(should_training_stop=False, should_epoch_stop=False, should_save=False,
                                             should_log=False, should_evaluate=False)
        # transformers.trainer, whose global skip_first_batches (imported from
        # accelerate) the loop calls, in sys.modules while it trains.
        self.transformers_trainer = types.ModuleType("transformers.trainer")
        self.transformers_trainer.skip_first_batches = skip_first_batches
        self.trained = []  # the micro-batches training_step received, in order
        self.logged = []  # the logs dicts on_log received, as the callbacks left them

    def event(self, name, **kwargs):
        self.control = self.callback_handler.event(name, self.args, self.state, self.control, **kwargs)

    def get_train_dataloader(self):
        kwargs = dict(batch_size=self.args.per_device_train_batch_size, collate_fn=self.data_collator,
                      num_workers=self.args.dataloader_num_workers)
        if self.prepare is DataLoaderShardSubclass:
            return DataLoaderShardSubclass(self.train_dataset, **kwargs)
        loader = DataLoader(self.train_dataset, **kwargs)
        return loader if self.prepare is None else self.prepare(loader)

    def get_batch_samples(self, epoch_iterator, num_batches):
        """The whole gradient-accumulation window, fetched before it trains."""
        batch_samples = []
        for _ in range(num_batches):
            try:
                batch_samples.append(next(epoch_iterator))
            except StopIteration:
                break
        num_items_in_batch = sum(int(batch["labels"].ne(-100).sum()) for batch in batch_samples)
        return batch_samples, num_items_in_batch

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.trained.append(inputs)
        loss = model(**inputs)
        loss.backward()
        return loss.detach()

    def log(self, logs):
        self.state.log_history.append(dict(logs))
        self.logged.append(logs)
        self.event("on_log", logs=logs)

    def loop_module(self):
        """The module whose globals the training loop's code sees."""
        return self.transformers_trainer

    def train(self, resume_from_checkpoint=None):
        with mock.patch.dict(sys.modules, {"transformers.trainer": self.transformers_trainer}):
            return self._inner_training_loop(resume_from_checkpoint)

    def _inner_training_loop(self, resume_from_checkpoint):
        args = self.args
        accumulation = args.gradient_accumulation_steps
        train_dataloader = self.get_train_dataloader()
        len_dataloader = len(train_dataloader)
        updates_per_epoch = max(len_dataloader // accumulation + int(len_dataloader % accumulation > 0), 1)
        if args.max_steps > 0:
            max_steps = args.max_steps
            num_train_epochs = max_steps // updates_per_epoch + int(max_steps % updates_per_epoch > 0)
        else:
            max_steps = math.ceil(args.num_train_epochs * updates_per_epoch)
            num_train_epochs = math.ceil(args.num_train_epochs)
        self.state = types.SimpleNamespace(global_step=0, max_steps=max_steps, num_input_tokens_seen=0, epoch=0,
                                           log_history=[], is_world_process_zero=True)
        epochs_trained = steps_trained_in_current_epoch = 0
        if resume_from_checkpoint is not None:
            with open(os.path.join(resume_from_checkpoint, "trainer_state.json"), encoding="utf-8") as f:
                self.state.__dict__.update(json.load(f))
            epochs_trained = self.state.global_step // updates_per_epoch
            if not args.ignore_data_skip:
                steps_trained_in_current_epoch = self.state.global_step % updates_per_epoch * accumulation
        if self.hands_over_dataloader:
            self.callback_handler.train_dataloader = train_dataloader
        self.event("on_train_begin")
        for epoch in range(epochs_trained, num_train_epochs):
            epoch_dataloader = train_dataloader
            steps_in_epoch = len(epoch_dataloader)
            self.event("on_epoch_begin")
            step = -1
            updates_trained = 0
            if steps_trained_in_current_epoch > 0:  # as 5.x's _run_epoch
                epoch_dataloader = self.loop_module().skip_first_batches(epoch_dataloader,
                                                                         steps_trained_in_current_epoch)
                step = steps_trained_in_current_epoch - 1
                updates_trained = steps_trained_in_current_epoch // accumulation
                steps_trained_in_current_epoch = 0
            epoch_iterator = iter(epoch_dataloader)
            remainder = steps_in_epoch % accumulation or accumulation
            total_updates = steps_in_epoch // accumulation + int(remainder < accumulation)
            for update_step in range(updates_trained, total_updates):
                num_batches = accumulation if update_step != total_updates - 1 else remainder
                batch_samples, num_items_in_batch = self.get_batch_samples(epoch_iterator, num_batches)
                for inputs in batch_samples:
                    step += 1
                    do_sync_step = (step + 1) % accumulation == 0 or (step + 1) == steps_in_epoch
                    self._track_num_input_tokens(inputs)
                    if step % accumulation == 0:
                        self.event("on_step_begin")
                    self.training_step(self.model, inputs, num_items_in_batch)
                    if do_sync_step:
                        self.event("on_pre_optimizer_step")
                        self.optimizer.step()
                        self.event("on_optimizer_step")
                        self.model.zero_grad()
                        self.state.global_step += 1
                        self.state.epoch = epoch + (step + 1) / steps_in_epoch
                        self.event("on_step_end")
                        self._maybe_log_save()
                    else:
                        self.event("on_substep_end")
                    if self.control.should_epoch_stop or self.control.should_training_stop:
                        break
                if self.control.should_epoch_stop or self.control.should_training_stop:
                    break
            self.event("on_epoch_end")
            self._maybe_log_save()
            if self.control.should_training_stop:
                break
        self.log({"train_loss": 1.0})
        self.event("on_train_end")

    def _track_num_input_tokens(self, inputs):
        mode = self.args.include_num_input_tokens_seen
        if mode in ("no", False):
            return
        if mode == "non_padding":
            self.state.num_input_tokens_seen += int(inputs["attention_mask"].sum())
        else:
            self.state.num_input_tokens_seen += inputs["input_ids"].numel()

    def _maybe_log_save(self):
        if self.control.should_log:
            self.log({"loss": 1.0})
        if self.control.should_save:
            checkpoint = os.path.join(self.args.output_dir, f"checkpoint-{self.state.global_step}")
            os.makedirs(checkpoint, exist_ok=True)
            with open(os.path.join(checkpoint, "trainer_state.json"), "w", encoding="utf-8") as f:
                json.dump({"global_step": self.state.global_step,
                           "num_input_tokens_seen": self.state.num_input_tokens_seen}, f)
            self.event("on_save")


def rows_of(batches):
    """The dataset rows that default_collate, 4 at a time in order, turns back into `batches`."""
    return [{key: value[row] for key, value in batch.items()}
            for batch in batches for row in range(len(batch["input_ids"]))]


def tokens_of(batches):
    return sum(int(batch["attention_mask"].sum()) for batch in batches)
