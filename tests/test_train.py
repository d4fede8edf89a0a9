import csv
import dataclasses
import pickle

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from colorbatch.cli import cli
from colorbatch.errors import CheckpointError, DataError, WeightsError
from colorbatch.train.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from colorbatch.train.data import load_dataset, split_train_val
from colorbatch.train.losses import VGG16Features, load_vgg16_features
from colorbatch.train.models import MODELS, UnknownModelError, count_parameters, create_model
from colorbatch.train.trainer import TrainConfig, Trainer, TrainingInterrupted, train
from tests.conftest import write_color_tree

pytestmark = pytest.mark.slow  # trains models

TINY = {"chroma-unet": {"width": 4, "depth": 2}, "seed-unet": {"widths": (4, 4, 8, 8, 8)},
        "chroma-bins": {"decoder": (8, 8, 8)}, "chroma-bins-hints": {"decoder": (8, 8, 8)},
        "chroma-ensemble": {"members": [{"width": 4, "depth": 2}, {"width": 6, "depth": 1}]}}


def test_the_registry_and_the_torch_free_names_agree():
    from colorbatch.architectures import REGISTERED, TRAINABLE
    from colorbatch.cli import cli

    assert sorted(MODELS) == sorted(REGISTERED) == sorted(TINY)
    arch = next(p for p in cli.commands["train"].params if p.name == "arch")
    assert list(arch.type.choices) == list(TRAINABLE)


def _steering(model, gray):
    """Hints (a dab) and a reference for a model that takes them, so that their layers see gradients."""
    from colorbatch.train.models import takes_hints

    if not takes_hints(model):
        return ()
    hints = torch.zeros(gray.shape[0], 3, *gray.shape[-2:])
    hints[:, 0, 4:12, 8:16], hints[:, 2, 4:12, 8:16] = 0.2, 1.0
    reference = torch.softmax(torch.randn(gray.shape[0], len(model.centres)), 1)
    with torch.no_grad():  # the hint layers start at zero: move them so that every weight is used
        for name, parameter in model.named_parameters():
            if name.startswith("reference_branch.") and parameter.dim() > 1:
                parameter.normal_(0, 0.1)
    return (None, None, hints, reference)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_honours_the_contract_and_backpropagates(name):
    model = create_model(name, **TINY[name])
    gray = torch.rand(2, 1, 32, 64)
    rgb = model(gray, *_steering(model, gray))
    assert rgb.shape == (2, 3, 32, 64)
    assert float(rgb.detach().min()) >= 0 and float(rgb.detach().max()) <= 1
    rgb.mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_trains_through_one_entry_point_with_one_typed_result(name):
    from colorbatch.train.models import TrainOutputs, predicts_bins

    model = create_model(name, **TINY[name], **({"num_classes": 5} if name in ("chroma-unet", "chroma-bins") else {}))
    gray = torch.rand(2, 1, 32, 64)
    outputs = model.train_outputs(gray)
    assert isinstance(outputs, TrainOutputs) and outputs.rgb.shape == (2, 3, 32, 64)
    assert (outputs.bin_logits is not None) == predicts_bins(model)
    assert (outputs.class_logits is not None) == (name in ("chroma-unet", "chroma-bins"))
    if outputs.class_logits is not None:
        assert outputs.class_logits.shape == (2, 5)
    if predicts_bins(model):  # the bin loss alone needs no decoded colour
        assert model.train_outputs(gray, rgb=False).rgb is None


def test_chroma_unet_keeps_luminance_and_accepts_any_size():
    from colorbatch.train.color import luminance

    model = create_model("chroma-unet", width=4, depth=3).eval()
    gray = torch.rand(1, 1, 19, 27)
    with torch.no_grad():
        rgb = model(gray)
    assert rgb.shape == (1, 3, 19, 27)
    assert torch.allclose(luminance(rgb), gray, atol=1e-5)


def test_seed_unet_has_the_original_layout():
    model = create_model("seed-unet")
    assert count_parameters(model) > 9_000_000
    assert [block[0].out_channels for block in model.encoder] == [128, 128, 256, 512, 512]


def test_unknown_model_lists_known_names():
    with pytest.raises(UnknownModelError, match="chroma-unet"):
        create_model("resnet")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_lowers_the_loss(tmp_path, precision):
    write_color_tree(tmp_path / "data", 64)
    trainer = Trainer(TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"),
                                  arch_kwargs={"width": 4, "depth": 2}, epochs=6, batch_size=16, lr=1e-2,
                                  schedule="constant", precision=precision))
    first = trainer.validation_loss()["loss"]
    for _ in range(6):
        trainer.run_epoch()
    assert trainer.validation_loss()["loss"] < first
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # autocast, not a cast


def test_fp16_on_cpu_is_a_clear_error(tmp_path):
    write_color_tree(tmp_path / "data", 64)
    result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                                      "--device", "cpu", "--precision", "fp16", "--epochs", "1"])
    assert result.exit_code == 5 and "fp16 needs CUDA" in result.output


def test_run_folder_holds_every_artefact(tiny_run):
    for name in ["output.log", "history.csv", "loss/loss.png", "metrics/metrics.png",
                 "comparison/epoch_001.png", "comparison/epoch_002.png",
                 "param/epoch_001.pth", "param/epoch_002.pth", "param/last.pth"]:
        assert (tiny_run / name).is_file(), name
    for png in tiny_run.rglob("*.png"):
        with Image.open(png) as image:
            image.verify()
    with open(tiny_run / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(float(r["val_psnr"]) > 0 and 0 < float(r["val_ssim"]) <= 1 for r in rows)
    assert "test: PSNR" in (tiny_run / "output.log").read_text()


def test_checkpoint_is_self_describing_and_round_trips(tiny_checkpoint):
    payload = load_checkpoint(tiny_checkpoint)
    for key in ("arch", "arch_kwargs", "state_dict", "epoch", "optimizer", "metrics", "colorbatch_version"):
        assert key in payload
    model = model_from_checkpoint(payload)
    reloaded = model_from_checkpoint(load_checkpoint(tiny_checkpoint))
    gray = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(gray), reloaded(gray))
    assert payload["epoch"] == 2 and "validation" in payload["metrics"] and "test" in payload["metrics"]


def test_resume_continues_epoch_count_and_optimizer_state(tmp_path):
    write_color_tree(tmp_path / "data", 48)
    config = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"),
                         arch_kwargs={"width": 4, "depth": 2}, epochs=1, batch_size=16)
    train(config)
    saved = load_checkpoint(tmp_path / "run" / "param" / "last.pth")
    resumed = Trainer(TrainConfig(**{**config.__dict__, "epochs": 3}))
    resumed.resume(tmp_path / "run" / "param" / "last.pth")
    assert resumed.epoch == 1
    state = resumed.optimizer.state_dict()["state"]
    assert torch.equal(state[0]["exp_avg"], saved["optimizer"]["state"][0]["exp_avg"])
    resumed.fit()
    final = load_checkpoint(tmp_path / "run" / "param" / "last.pth")
    assert final["epoch"] == 3 and len(final["history"]) == 3


def test_a_run_interrupted_mid_epoch_resumes_at_the_next_step_with_the_same_batches(tmp_path, monkeypatch):
    write_color_tree(tmp_path / "data", 96)
    config = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"),
                         arch_kwargs={"width": 4, "depth": 2}, epochs=1, batch_size=16, eval_every=1)
    seen: list[list[float]] = []  # one fingerprint per step: which images the batch held

    def recording(step):
        def wrapper(self, gray, color, labels=None):
            seen.append(sorted(float(v) for v in color.flatten(1).sum(1)))
            if len(seen) == 2 and interrupt:
                raise KeyboardInterrupt
            return step(self, gray, color, labels)
        return wrapper

    interrupt = True
    monkeypatch.setattr(Trainer, "_step", recording(Trainer._step))
    first = Trainer(config)
    with pytest.raises(TrainingInterrupted) as stopped:
        first.fit()
    assert stopped.value.path == tmp_path / "run" / "param" / "last.pth"
    saved = load_checkpoint(tmp_path / "run" / "param" / "last.pth")
    assert saved["epoch"] == 0 and saved["epoch_progress"]["step"] == 1  # the step done before the signal
    interrupt = False
    resumed = Trainer(config)
    resumed.resume(tmp_path / "run" / "param" / "last.pth")
    resumed.fit()
    assert len(seen) == 1 + 1 + (first.steps_per_epoch - 1)  # step 1, the interrupted step 2, then steps 2..6
    assert seen[2] == pytest.approx(seen[1], rel=1e-5)  # the batch it was interrupted in (a flip may differ)
    assert load_checkpoint(tmp_path / "run" / "param" / "last.pth")["epoch"] == 1


def test_resume_with_new_epochs_and_schedule_starts_from_the_given_lr(tmp_path):
    write_color_tree(tmp_path / "data", 48)
    config = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"),
                         arch_kwargs={"width": 4, "depth": 2}, epochs=3, batch_size=16)
    trainer = Trainer(config)
    trainer.run_epoch()
    trainer.save(numbered=False)
    resumed = Trainer(TrainConfig(**{**config.__dict__, "epochs": 2, "schedule": "cosine", "lr": 7e-4}))
    resumed.resume(tmp_path / "run" / "param" / "last.pth")
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(7e-4)
    resumed.run_epoch()
    assert resumed.optimizer.param_groups[0]["lr"] < 1e-6  # cosine to zero over the one remaining epoch


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        load_checkpoint(tmp_path / "junk.pth")
    torch.save({"weights": 1}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a colorbatch checkpoint"):
        load_checkpoint(tmp_path / "other.pth")
    save_checkpoint(tmp_path / "future.pth", arch="chroma-unet", arch_kwargs={}, state_dict={}, epoch=0)
    payload = torch.load(tmp_path / "future.pth", weights_only=True)
    torch.save({**payload, "format_version": 99}, tmp_path / "future.pth")
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(tmp_path / "future.pth")


# --- VGG-16 --------------------------------------------------------------------------------


def test_vgg_loader_accepts_torchvision_layout(tmp_path):
    reference = VGG16Features()
    state = {k: torch.randn_like(v) for k, v in reference.state_dict().items() if k.startswith("features.")}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the full file also holds the classifier
    torch.save(state, tmp_path / "vgg16-397923af.pth")
    model = load_vgg16_features(tmp_path / "vgg16-397923af.pth")
    assert torch.equal(model.features[0].weight, state["features.0.weight"])
    assert not any(p.requires_grad for p in model.parameters())
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 256, 8, 8)


def test_vgg_loader_rejects_wrong_layout_and_missing_file(tmp_path):
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3)}, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="not torchvision's VGG-16 layout"):
        load_vgg16_features(tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="put it there"):
        load_vgg16_features(tmp_path / "absent.pth")


def test_cli_reports_missing_vgg_weights_clearly(tmp_path):
    write_color_tree(tmp_path / "data", 40)
    result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                                      "--preset", "exp2", "--vgg-weights", str(tmp_path / "none.pth"),
                                      "--epochs", "1"])
    assert result.exit_code == WeightsError.exit_code
    assert "VGG-16 weights not found" in result.output and "Traceback" not in result.output


def test_cli_says_whether_an_interrupted_run_saved_anything(tmp_path, monkeypatch):
    write_color_tree(tmp_path / "data", 40)
    args = ["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--epochs", "1",
            "--width", "4", "--depth", "2", "--batch-size", "8", "--device", "cpu", "--precision", "fp32"]

    def stopped_while_loading(self, config):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "__init__", stopped_while_loading)
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 130 and "nothing saved" in result.output
    assert not (tmp_path / "run" / "param").exists()

    def stopped_in_a_step(self, gray, color, labels=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_step", stopped_in_a_step)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 130 and "checkpoint saved in" in result.output
    assert (tmp_path / "run" / "param" / "last.pth").is_file()


def test_losses_are_logged_apart(tmp_path):
    from colorbatch.train.losses import ColorizationLoss, LossWeights

    vgg = VGG16Features()
    loss = ColorizationLoss(LossWeights(mse=1, vgg=0.5, l1=1e-6, l2=1e-5), vgg)
    model = create_model("chroma-unet", width=4, depth=2)
    out = model(torch.rand(2, 1, 32, 32))
    total, terms = loss(out, torch.rand(2, 3, 32, 32), model)
    assert set(terms) == {"mse", "vgg", "l1", "l2"}  # only the terms computed: the others are absent, not 0
    assert all(terms[name] > 0 for name in ("mse", "vgg", "l1", "l2"))
    expected = terms["mse"] + 0.5 * terms["vgg"] + 1e-6 * terms["l1"] + 1e-5 * terms["l2"]
    assert float(total.detach()) == pytest.approx(expected, rel=1e-4)


def test_log_mse_is_the_mean_of_per_image_log_errors_and_mse_is_still_logged():
    from colorbatch.train.losses import ColorizationLoss, LossWeights, log_mse

    torch.manual_seed(0)
    target = torch.rand(3, 3, 8, 8)
    output = target.clone()
    output[0] += 0.01  # one nearly right image, two far off: pooled MSE hides the first
    output[1:] = torch.rand(2, 3, 8, 8)
    per_image = ((output - target) ** 2).flatten(1).mean(1).numpy().astype(np.float64)
    expected = np.mean(np.log(per_image + (0.5 / 255) ** 2))
    assert float(log_mse(output, target)) == pytest.approx(expected, rel=1e-5)
    model = create_model("chroma-unet", width=4, depth=2)
    total, terms = ColorizationLoss(LossWeights(mse=2.0), pixel="log-mse")(output, target, model)
    assert float(total) == pytest.approx(2 * expected, rel=1e-5)
    assert terms["mse"] == pytest.approx(per_image.mean(), rel=1e-5)
    with pytest.raises(ValueError, match="log-mse"):
        ColorizationLoss(LossWeights(), pixel="l1")


def test_ssim_loss_twin_equals_the_metric():
    from colorbatch.scoring.metrics import ssim
    from colorbatch.train.losses import ColorizationLoss, LossWeights
    from colorbatch.train.metrics import ssim_per_image

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (3, 32, 40, 3), dtype=np.uint8)
    pred = np.clip(truth.astype(int) + rng.integers(-40, 41, truth.shape), 0, 255).astype(np.uint8)
    pred[2] = truth[2]

    def chw(x):
        return torch.from_numpy(x).double().div(255).permute(0, 3, 1, 2)

    twin = ssim_per_image(chw(pred), chw(truth)).numpy()
    assert twin == pytest.approx([ssim(p, t) for p, t in zip(pred, truth)], abs=1e-6)
    assert twin[2] == pytest.approx(1.0)
    model = create_model("chroma-unet", width=4, depth=2)
    total, terms = ColorizationLoss(LossWeights(mse=0, ssim_loss=1))(chw(pred).float(), chw(truth).float(), model)
    assert float(total) == pytest.approx(1 - twin.mean(), abs=1e-5) and terms["ssim_loss"] > 0


def test_init_takes_weights_only_and_checks_the_architecture(tmp_path, tiny_checkpoint):
    write_color_tree(tmp_path / "data", 40)
    config = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"), arch_kwargs={"width": 4, "depth": 2},
                         epochs=1, batch_size=16, pixel_loss="log-mse")
    trainer = Trainer(config)
    trainer.init_weights(tiny_checkpoint)
    source = load_checkpoint(tiny_checkpoint)["state_dict"]
    assert all(torch.equal(value, source[name]) for name, value in trainer.model.state_dict().items())
    assert trainer.epoch == 0 and trainer.optimizer.state_dict()["state"] == {}
    trainer.fit()  # log-mse totals are negative: the curves must still plot
    rows = list(csv.DictReader((tmp_path / "run" / "history.csv").read_text().splitlines()))
    assert float(rows[0]["train_loss"]) < 0 < float(rows[0]["train_mse"])
    assert (tmp_path / "run" / "loss" / "loss.png").stat().st_size > 0
    wider = Trainer(dataclasses.replace(config, arch_kwargs={"width": 8, "depth": 2}))
    with pytest.raises(CheckpointError, match="same architecture"):
        wider.init_weights(tiny_checkpoint)
    with pytest.raises(CheckpointError, match="same architecture"):
        wider.resume(tiny_checkpoint)
    result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "r2"),
                                      "--init", str(tiny_checkpoint), "--resume", str(tiny_checkpoint)])
    assert result.exit_code == 2 and "only one" in result.output


# --- data layouts ----------------------------------------------------------------------------


def test_colour_tree_with_train_and_test(tmp_path):
    write_color_tree(tmp_path / "train", 20)
    write_color_tree(tmp_path / "test", 5, seed=3)
    dataset = load_dataset(tmp_path)
    assert dataset.train.color.shape == (20, 32, 32, 3) and len(dataset.test) == 5
    expected = np.asarray(Image.fromarray(dataset.train.color[0]).convert("L"))
    assert np.array_equal(dataset.train.gray[0], expected)


def test_nested_tree_and_cache(tmp_path):
    write_color_tree(tmp_path / "data", 10, size=40, folders=("x/y", "z"))
    first = load_dataset(tmp_path / "data", size=32, cache_dir=tmp_path / "cache")
    assert first.train.color.shape == (10, 32, 32, 3) and first.test is None
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    again = load_dataset(tmp_path / "data", size=32, cache_dir=tmp_path / "cache")
    assert np.array_equal(first.train.color, again.train.color)


def test_paired_folders_and_their_errors(tmp_path):
    colors = write_color_tree(tmp_path / "color", 6)
    for path in colors:
        target = tmp_path / "gray" / path.relative_to(tmp_path / "color")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.open(path).convert("L").save(target.with_suffix(".jpg"))
    dataset = load_dataset(tmp_path / "color", gray_dir=tmp_path / "gray")
    assert dataset.train.gray.shape == (6, 32, 32)
    (tmp_path / "gray" / "a" / "img000.jpg").unlink()
    with pytest.raises(DataError, match=r"no partner.*img000"):
        load_dataset(tmp_path / "color", gray_dir=tmp_path / "gray")
    Image.new("L", (16, 16)).save(tmp_path / "gray" / "a" / "img000.png")
    with pytest.raises(DataError, match="differ in size"):
        load_dataset(tmp_path / "color", gray_dir=tmp_path / "gray")


def test_cifar_python_batches(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as handle:
            pickle.dump({b"data": data, b"labels": [3, 1, 4, 1]}, handle)
    dataset = load_dataset(folder)
    assert dataset.train.color.shape == (20, 32, 32, 3) and len(dataset.test) == 4
    assert list(dataset.train.labels[:4]) == [3, 1, 4, 1] and len(dataset.class_names) == 10
    with open(folder / "data_batch_1", "rb") as handle:
        raw = pickle.load(handle)[b"data"][0]
    assert np.array_equal(dataset.train.color[0][..., 0].ravel(), raw[:1024])


def test_class_labels_come_from_the_first_folder(tmp_path):
    write_color_tree(tmp_path / "classes", 6, folders=("cat", "dog/indoor", "dog/outdoor"))
    dataset = load_dataset(tmp_path / "classes")
    assert dataset.class_names == ("cat", "dog") and list(dataset.train.labels) == [0, 0, 1, 1, 1, 1]
    assert list(dataset.train.subset(np.array([0, 2])).labels) == [0, 1]
    write_color_tree(tmp_path / "mixed", 4, folders=("cat", "dog", "."))
    unlabelled = load_dataset(tmp_path / "mixed")
    assert unlabelled.train.labels is None and unlabelled.class_names == ()


def test_bad_data_folders_give_clear_errors(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_dataset(tmp_path / "empty")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"x\.png: cannot be read"):
        load_dataset(tmp_path / "broken")


def test_split_is_deterministic_and_nine_to_one(tmp_path):
    write_color_tree(tmp_path / "data", 30)
    split = load_dataset(tmp_path / "data").train
    train_a, val_a = split_train_val(split, seed=7)
    _, val_b = split_train_val(split, seed=7)
    assert len(val_a) == 3 and len(train_a) == 27
    assert np.array_equal(val_a.color, val_b.color)
    assert not np.array_equal(split_train_val(split, seed=8)[1].color, val_a.color)


# --- weight averaging ------------------------------------------------------------------------


def test_average_means_the_weights_and_remeasures_batch_norm(tmp_path, tiny_run):
    from colorbatch.train.averaging import average_weights, recompute_batch_norm

    paths = [tiny_run / "param" / "epoch_001.pth", tiny_run / "param" / "epoch_002.pth"]
    result = CliRunner().invoke(cli, ["average", *map(str, paths), "--data", str(tiny_run.parent),
                                      "-o", str(tmp_path / "avg.pth")])
    assert result.exit_code == 0, result.output
    assert "validation: PSNR" in result.output and "test: PSNR" in result.output
    first, second = (load_checkpoint(p)["state_dict"] for p in paths)
    averaged = load_checkpoint(tmp_path / "avg.pth")
    assert averaged["epoch"] == 2 and len(averaged["averaged_from"]) == 2
    weights = [k for k, v in averaged["state_dict"].items() if v.ndim == 4]
    assert weights and all(torch.allclose(averaged["state_dict"][k], (first[k] + second[k]) / 2) for k in weights)
    # Batch-norm statistics are measured on the training split (here all of it, one batch), not averaged.
    train_split, _ = split_train_val(load_dataset(tiny_run.parent).train, 0)
    measured = recompute_batch_norm(average_weights([load_checkpoint(p) for p in paths]), train_split).state_dict()
    variances = [k for k in averaged["state_dict"] if k.endswith("running_var")]
    assert variances
    for key in variances:
        assert torch.allclose(averaged["state_dict"][key], measured[key], rtol=1e-4, atol=1e-6)
        assert not torch.allclose(averaged["state_dict"][key], (first[key] + second[key]) / 2, rtol=1e-3)
    assert model_from_checkpoint(averaged) is not None  # self-describing: export needs nothing else


def test_average_refuses_one_checkpoint_or_different_models(tmp_path, tiny_checkpoint):
    from colorbatch.train.averaging import average_weights

    result = CliRunner().invoke(cli, ["average", str(tiny_checkpoint), "--data", str(tmp_path),
                                      "-o", str(tmp_path / "a.pth")])
    assert result.exit_code == CheckpointError.exit_code and "at least two" in result.output
    payload = load_checkpoint(tiny_checkpoint)
    other = {**payload, "arch_kwargs": {**payload["arch_kwargs"], "width": 8}}
    with pytest.raises(CheckpointError, match="cannot average"):
        average_weights([payload, other])


def _other_member(tiny_checkpoint, tmp_path, **changes):
    """A second chroma-unet checkpoint (different width, fresh weights) beside the tiny run's."""
    payload = load_checkpoint(tiny_checkpoint)
    kwargs = {**payload["arch_kwargs"], "width": 6}
    torch.manual_seed(7)
    path = tmp_path / "other.pth"
    save_checkpoint(path, **{**payload, "arch_kwargs": kwargs,
                             "state_dict": create_model("chroma-unet", **kwargs).state_dict(), **changes})
    return path


def test_ensemble_averages_the_members_chroma_and_exports(tmp_path, tiny_run, tiny_checkpoint):
    from colorbatch.export.onnx_export import export_checkpoint

    other = _other_member(tiny_checkpoint, tmp_path)
    result = CliRunner().invoke(cli, ["ensemble", str(tiny_checkpoint), str(other), "--data", str(tiny_run.parent),
                                      "-o", str(tmp_path / "ens.pth")])
    assert result.exit_code == 0, result.output
    assert "validation: PSNR" in result.output and "test: PSNR" in result.output
    payload = load_checkpoint(tmp_path / "ens.pth")
    assert payload["arch"] == "chroma-ensemble" and len(payload["ensemble_of"]) == 2
    ensemble = model_from_checkpoint(payload)
    members = [model_from_checkpoint(load_checkpoint(p)) for p in (tiny_checkpoint, other)]
    gray = torch.rand(2, 1, 20, 28)
    with torch.no_grad():
        expected = (members[0].predict_chroma(gray) + members[1].predict_chroma(gray)) / 2
        assert torch.allclose(ensemble.predict_chroma(gray), expected, atol=1e-6)
        assert not torch.allclose(members[0].predict_chroma(gray), expected, atol=1e-3)
    exported = export_checkpoint(tmp_path / "ens.pth", tmp_path / "ens.onnx")
    assert exported.max_abs_diff < 1e-4


def test_ensemble_refuses_other_architectures_and_other_splits(tmp_path, tiny_run, tiny_checkpoint):
    from colorbatch.train.averaging import ensemble_checkpoints

    payload = load_checkpoint(tiny_checkpoint)
    seed = tmp_path / "seed.pth"
    save_checkpoint(seed, **{**payload, "arch": "seed-unet", "arch_kwargs": {}})
    with pytest.raises(CheckpointError, match="takes chroma-unet"):
        ensemble_checkpoints([tiny_checkpoint, seed], tmp_path / "e.pth", tiny_run.parent)
    other_seed = _other_member(tiny_checkpoint, tmp_path, config={**payload["config"], "seed": 5})
    with pytest.raises(CheckpointError, match="different validation splits"):
        ensemble_checkpoints([tiny_checkpoint, other_seed], tmp_path / "e.pth", tiny_run.parent)
    assert not (tmp_path / "e.pth").exists()


# --- auxiliary class loss --------------------------------------------------------------------


def _two_class_tree(root, count):
    """Bright and dark images: classes a tiny model can learn from luminance alone."""
    for path in write_color_tree(root, count, folders=("bright", "dark")):
        image = np.asarray(Image.open(path)) // 2
        Image.fromarray(image + 128 if path.parent.name == "bright" else image).save(path)


def test_class_loss_trains_a_head_that_export_leaves_out(tmp_path):
    import onnxruntime as ort

    from colorbatch.export.onnx_export import export_checkpoint

    _two_class_tree(tmp_path / "data", 64)
    config = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"), arch_kwargs={"width": 4, "depth": 2},
                         epochs=4, batch_size=16, lr=1e-2, schedule="constant", eval_every=4,
                         loss={"mse": 1.0, "class_loss": 1.0})
    before = dataclasses.replace(config)
    trainer = Trainer(config)
    assert trainer.model.classifier.out_features == 2
    assert config == before and trainer.config.arch_kwargs["num_classes"] == 2  # the caller's config is untouched
    first = trainer.validation_loss()["class_loss"]
    trainer.fit()
    final = trainer.validation_loss()
    assert final["class_loss"] < first and final["class_accuracy"] == 1.0
    with open(tmp_path / "run" / "history.csv") as handle:
        assert all(float(row["train_class_loss"]) > 0 for row in csv.DictReader(handle))

    export_checkpoint(tmp_path / "run" / "param" / "last.pth", tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["rgb"]
    gray = np.random.default_rng(0).random((2, 1, 32, 32), dtype=np.float32)
    with torch.no_grad():
        expected = trainer.model.eval()(torch.from_numpy(gray)).numpy()
    assert np.abs(session.run(None, {"gray": gray})[0] - expected).max() < 1e-4


def test_class_loss_needs_class_folders(tmp_path):
    write_color_tree(tmp_path / "flat", 32, folders=(".",))
    result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "flat"), "--out", str(tmp_path / "run"),
                                      "--class-loss-weight", "0.3", "--epochs", "1", "--batch-size", "8"])
    assert result.exit_code == 6 and "needs class labels" in result.output
    assert not (tmp_path / "run" / "param").exists()


def test_mixtree_links_class_folders_and_renders_photos_at_each_scale(tmp_path):
    from colorbatch.train.data import load_dataset
    from colorbatch.train.mixtree import link_class_folders, render_photos

    write_color_tree(tmp_path / "cifar" / "train", 6, folders=("cat", "dog"))
    photos = tmp_path / "photos" / "bsds"
    photos.mkdir(parents=True)
    Image.fromarray(np.zeros((30, 45, 3), np.uint8)).save(photos / "p1.jpg")
    mix = tmp_path / "mix"
    mix.mkdir()
    assert link_class_folders(tmp_path / "cifar" / "train", mix) == 6
    assert render_photos(tmp_path / "photos", mix, [16, 24], repeats=2) == 4
    assert sorted(p.name for p in mix.iterdir()) == ["cifar-train-cat", "cifar-train-dog", "photos-photos"]
    rendered = sorted((mix / "photos-photos").iterdir())
    assert [Image.open(p).size for p in rendered] == [(24, 16), (24, 16), (36, 24), (36, 24)]
    assert rendered[0].stat().st_ino == rendered[1].stat().st_ino  # repeats are links, not copies
    assert link_class_folders(tmp_path / "cifar" / "train", mix) == 6  # idempotent
    dataset = load_dataset(mix, size=16)
    assert len(dataset.train) == 10 and len(dataset.class_names) == 3


def test_a_preset_fills_only_the_options_not_given():
    from colorbatch.train.config import PRESET_RUN, config_from_options
    from colorbatch.train.losses import PRESETS

    context = cli.commands["train"].make_context("train", ["--data", "d", "--out", "o", "--preset", "exp3",
                                                           "--epochs", "3", "--vgg-weight", "0.5"])
    given = {name for name in context.params
             if context.get_parameter_source(name) != click.core.ParameterSource.DEFAULT}
    config = config_from_options(context.params, given)
    assert config.epochs == 3 and config.lr == PRESET_RUN["lr"] and config.arch == "seed-unet"
    assert config.loss["vgg"] == 0.5 and config.loss["mse"] == PRESETS["exp3"].mse
    bins = cli.commands["train"].make_context("train", ["--data", "d", "--out", "o", "--arch", "chroma-bins"])
    assert config_from_options(bins.params, set()).loss["bins"] == 1.0


def test_the_pretrained_encoder_default_lives_in_one_place():
    from colorbatch.train.config import TrainConfig, config_from_options

    def config(*args):
        context = cli.commands["train"].make_context("train", ["--data", "d", "--out", "o", "--arch", "chroma-bins",
                                                               *args])
        return config_from_options(context.params, set())

    assert TrainConfig(data="d", out="o", arch="chroma-bins").pretrained is True
    assert config().pretrained is TrainConfig.pretrained  # the CLI takes the config's default
    assert config("--no-pretrained").pretrained is False
    assert config("--pretrained").pretrained is True
