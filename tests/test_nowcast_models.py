"""The learned nowcasting networks (PA-Net, MeTok, IMPA-Net) and their losses, on synthetic tensors."""

from __future__ import annotations

import json
import math

import pytest
import torch

from hvrmet.nowcast import losses
from hvrmet.nowcast.models import MODELS, build_model
from hvrmet.nowcast.models.impa_net import SpatialMixer, mixer_permutation, spatial_mix, spatial_unmix
from hvrmet.nowcast.models.metok import scatter_tokens, sort_tokens
from hvrmet.nowcast.models.common import advect, lagrangian_output
from hvrmet.nowcast.models.pa_net import PAMoE

NAMES = ["pa_net", "metok", "impa_net"]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors gain nothing from threads, and on a busy 2-core machine two OpenMP
    threads stall on each other (a 10-20x slowdown seen); one thread keeps this fast."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _dbz(v: float) -> float:
    return v / 70.0


def test_factory_knows_the_three_models():
    assert list(MODELS) == NAMES
    with pytest.raises(ValueError, match="pa_net, metok, impa_net"):
        build_model("convlstm")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("hw", [(128, 128), (64, 96)])
def test_shapes_range_and_contract_attributes(name, hw):
    model = build_model(name)
    x = torch.rand(2, 6, *hw) ** 3
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 12, *hw) and y.dtype == torch.float32
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert isinstance(model.aux_loss, torch.Tensor) and model.aux_loss.ndim == 0
    assert math.isfinite(float(model.aux_loss)) and float(model.aux_loss) >= 0.0
    assert isinstance(model.stats, dict) and model.stats
    json.dumps(model.stats)
    # the config rebuilds the same architecture (and survives JSON, as in a checkpoint)
    again = build_model(name, **json.loads(json.dumps(model.config)))
    again.load_state_dict(model.state_dict())
    n = sum(p.numel() for p in model.parameters())
    assert 100_000 <= n <= 2_000_000


@pytest.mark.parametrize("name", NAMES)
def test_untrained_model_is_the_advected_forecast_exactly_and_bad_input_is_refused(name):
    """Zero residual: the untrained model returns the advected forecast it is given, bit
    for bit; with neither advected frames nor motion, persistence bit for bit; with a
    motion field only, its own semi-Lagrangian warp of the last frame."""
    model = build_model(name)
    x = torch.rand(2, 6, 32, 48)
    adv = torch.rand(2, 12, 32, 48)
    motion = torch.randn(2, 2, 32, 48)
    with torch.no_grad():
        assert torch.equal(model(x, adv, motion), adv)
        assert torch.equal(model(x), x[:, -1:].expand(2, 12, 32, 48))
        assert torch.equal(model(x, None, motion), advect(x[:, -1], motion, 12))
    for bad in (torch.rand(1, 6, 40, 32), torch.rand(1, 5, 32, 32), torch.rand(6, 32, 32)):
        with pytest.raises(ValueError):
            model(bad)
    with pytest.raises(ValueError, match="advected"):
        model(x, adv[:, :6], motion)
    with pytest.raises(ValueError, match="motion"):
        model(x, adv, motion[:, :1])


@pytest.mark.parametrize("name", NAMES)
def test_residual_head_learns_where_the_clip_binds(name):
    """The straight-through clip: on a no-echo pixel (advected 0) a gradient still reaches
    the zero-initialised head, so the model can learn initiation."""
    model = build_model(name)
    x = torch.zeros(1, 6, 32, 32)
    adv = torch.zeros(1, 12, 32, 32)
    y = model(x, adv, torch.zeros(1, 2, 32, 32))
    ((y - 0.5) ** 2).mean().backward()
    assert float(model.decoder.out.bias.grad.abs().sum()) > 0


def test_lagrangian_output_is_exact_and_clipped():
    adv = torch.rand(3, 12, 8, 8)
    assert torch.equal(lagrangian_output(adv, torch.zeros_like(adv)), adv)
    d = torch.full_like(adv, 2.0, requires_grad=True)
    y = lagrangian_output(adv, d)
    assert torch.equal(y, torch.ones_like(adv))
    y.sum().backward()
    assert torch.equal(d.grad, torch.ones_like(adv))          # straight through


def test_advect_moves_a_cell_like_pysteps():
    """A uniform motion of 2 px/step to the right and 1 px/step down: the torch warp and
    pysteps' semi-Lagrangian extrapolation agree."""
    import numpy as np

    from hvrmet.nowcast.baselines import extrapolation

    f = np.zeros((48, 64), np.float32)
    f[10:20, 10:22] = 40.0
    v = np.zeros((2, 48, 64))
    v[0], v[1] = 2.0, 1.0
    ref = extrapolation(np.stack([f, f, f]), 5, velocity=v)
    got = advect(torch.from_numpy(f)[None], torch.from_numpy(v).float()[None], 5)[0].numpy()
    assert np.abs(got - ref).max() < 1e-3
    assert got[4, 15, 25] == pytest.approx(40.0) and got[4, 15, 12] == 0.0   # moved by 10 px right


def test_augmentation_commutes_with_advection():
    import numpy as np

    from hvrmet.nowcast.pool import augment

    f = np.zeros((1, 40, 56), np.float32)
    f[0, 12:20, 8:18] = 1.0
    m = np.zeros((1, 2, 40, 56), np.float32)
    m[0, 0], m[0, 1] = 1.5, -0.5
    a = advect(torch.from_numpy(f), torch.from_numpy(m), 3).numpy()
    for k in range(4):
        for flip in (False, True):
            (fa, aa), ma = augment([f, a], m, k, flip)
            assert np.allclose(advect(torch.from_numpy(fa), torch.from_numpy(ma), 3).numpy(), aa, atol=1e-6)


def _quadrants(b: int = 2, size: int = 128) -> torch.Tensor:
    """Four quadrants at 10, 30, 40 and 55 dBZ in every frame: one per intensity bin."""
    x = torch.empty(b, 6, size, size)
    h = size // 2
    x[..., :h, :h] = _dbz(10.0)
    x[..., :h, h:] = _dbz(30.0)
    x[..., h:, :h] = _dbz(40.0)
    x[..., h:, h:] = _dbz(55.0)
    return x


def test_pa_moe_active_experts_rise_with_intensity():
    model = build_model("pa_net")                     # k_min=1, k_max=4, thresholds 20/35/45
    with torch.no_grad():
        model(_quadrants())
    st = model.stats
    k = [st["k_by_bin"][b] for b in ("<20", "20-35", "35-45", ">=45")]
    assert k == [1.0, 2.0, 3.0, 4.0]
    assert all(n == 2 * 12 * 8 * 8 for n in st["tokens_by_bin"].values())  # 8x8 tokens per quadrant and lead
    assert st["mean_k"] == pytest.approx(2.5)
    bal = float(model.aux_loss)
    assert math.isfinite(bal) and bal >= 0.0 and bal == pytest.approx(st["load_balance"], rel=1e-5)
    # a field with no echo uses k_min everywhere; an empty bin is reported as None
    with torch.no_grad():
        model(torch.zeros(1, 6, 64, 64))
    assert model.stats["k_by_bin"]["<20"] == 1.0 and model.stats["k_by_bin"][">=45"] is None


def test_pa_moe_routes_each_token_to_k_experts_with_renormalised_gates():
    moe = PAMoE(dim=16, hidden=32, num_experts=6, k_min=1, k_max=4, shared_expert=False)
    intensity = torch.tensor([_dbz(v) for v in (0.0, 19.9, 20.0, 34.0, 35.0, 44.9, 45.0, 70.0)])
    x = torch.randn(intensity.numel(), 16, requires_grad=True)
    out, balance, info = moe(x, intensity)
    assert info["k"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4]
    assert out.shape == x.shape
    assert math.isfinite(balance.item()) and balance.item() >= 0.0
    assert float(info["load"].sum()) == pytest.approx(1.0)
    # reference: dense evaluation of the top-k experts with renormalised gates
    probs = torch.softmax(moe.router(x), -1)
    ref = torch.zeros_like(x)
    for i, kk in enumerate(info["k"].tolist()):
        p, e = probs[i].topk(kk)
        p = p / p.sum()
        ref[i] = sum(pj * moe.experts[ej](x[i:i + 1])[0] for pj, ej in zip(p, e.tolist()))
    assert torch.allclose(out, ref, atol=1e-5)
    (out.sum() + balance).backward()
    assert all(p.grad is not None for p in moe.parameters())   # unchosen experts stay in the graph


def test_metok_sort_scatter_is_an_exact_inverse():
    for shape in [(3, 100, 7), (2, 257, 96), (1, 5, 1)]:
        x = torch.randn(*shape)
        key = torch.randint(0, 4, shape[:2]).float()          # many ties
        s, index = sort_tokens(x, key)
        assert torch.equal(scatter_tokens(s, index), x)
        ks = torch.gather(key, 1, index)
        assert bool((ks[:, 1:] >= ks[:, :-1]).all())          # sorted by the key
        assert torch.equal(s, torch.gather(x, 1, index.unsqueeze(-1).expand_as(x)))
    ints = torch.randint(-50, 50, (2, 33))
    s, index = sort_tokens(ints, ints.float())
    assert torch.equal(scatter_tokens(s, index), ints)


def test_metok_groups_hold_similar_intensities():
    model = build_model("metok")
    x = torch.zeros(1, 6, 128, 128)
    x[..., 32:96, 32:96] = torch.rand(64, 64)                 # a storm in an echo-free field
    with torch.no_grad():
        model(x)
    st = model.stats
    assert st["n_tokens"] == 256 and st["n_groups"] == 4 and st["padding"] == 0
    assert st["within_group_std"] < 0.5 * st["key_std"]
    assert st["group_mean"] == sorted(st["group_mean"])
    with torch.no_grad():
        model(torch.rand(1, 6, 64, 96))                       # 96 tokens: groups of 64, padded
    assert model.stats["n_groups"] == 2 and model.stats["padding"] == 32


def test_metok_learned_key_trains_its_projection():
    model = build_model("metok", key="learned")
    y = model(torch.rand(2, 6, 64, 96))
    assert y.shape == (2, 12, 64, 96) and model.stats["key_unit"] == "learned"
    (y.mean() + model.decoder.out.weight.sum()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_spatial_mixer_is_a_parameter_free_invertible_permutation():
    mixer = SpatialMixer()
    assert list(mixer.parameters()) == [] and list(mixer.buffers()) == [] and mixer.state_dict() == {}
    x = torch.randn(2, 6, 32, 48)
    y = mixer(x)
    assert y.shape == x.shape and not torch.equal(y, x)
    assert torch.equal(mixer.inverse(y), x) and torch.equal(spatial_unmix(spatial_mix(x)), x)
    assert torch.equal(torch.sort(y.flatten()).values, torch.sort(x.flatten()).values)  # only moves values
    # each 2x2 block of output channel c holds input channels c, c-1, c-2, c-3 (mod C)
    ident = torch.arange(6.0).view(1, 6, 1, 1).expand(1, 6, 4, 4)
    m = mixer(ident)[0]
    for c in range(6):
        assert m[c, :2, :2].flatten().tolist() == [float((c - s) % 6) for s in range(4)]
    perm = mixer_permutation(6)
    assert sorted(perm.tolist()) == list(range(24))
    impa = build_model("impa_net")
    assert all(not any(True for _ in mod.parameters()) for mod in impa.modules() if isinstance(mod, SpatialMixer))


def test_dynamic_loss_is_asymmetric_and_grows_with_lead_time_and_epoch():
    target = torch.full((1, 12, 8, 8), _dbz(50.0))
    d = _dbz(5.0)
    under = losses.dynamic_loss(target - d, target, 5, 10)
    over = losses.dynamic_loss(target + d, target, 5, 10)
    assert float(under) > float(over)
    # below every threshold the penalty is symmetric
    weak = torch.full((1, 12, 8, 8), _dbz(10.0))
    assert float(losses.dynamic_loss(weak - d, weak, 5, 10)) == pytest.approx(
        float(losses.dynamic_loss(weak + d, weak, 5, 10)), rel=1e-5)
    # weights grow with lead time ...
    w = losses.dynamic_weights(target - d, target, 5, 10)
    per_lead = w.mean(dim=(0, 2, 3))
    assert bool((per_lead[1:] > per_lead[:-1]).all())
    # ... with the epoch ...
    by_epoch = [float(losses.dynamic_loss(target - d, target, e, 10, normalise=False)) for e in range(10)]
    assert all(b > a for a, b in zip(by_epoch, by_epoch[1:]))
    # ... and with intensity
    levels = [float(losses.dynamic_weights(torch.zeros(1, 12, 1, 1), torch.full((1, 12, 1, 1), _dbz(v)), 9, 10).mean())
              for v in (10.0, 25.0, 40.0, 50.0)]
    assert levels == sorted(levels) and len(set(levels)) == 4


def test_intensity_sample_weights_grow_for_heavy_rain_over_the_epochs():
    targets = torch.zeros(3, 12, 32, 32)
    targets[1, :, :16] = _dbz(38.0)        # heavy rain over half the sample
    targets[2, :, :16] = _dbz(52.0)        # severe convection
    first = losses.intensity_sample_weights(targets, 0, 10)
    last = losses.intensity_sample_weights(targets, 9, 10)
    assert first.shape == (3,) and torch.equal(first, torch.ones(3))
    assert last[0] == 1.0 and last[0] < last[1] < last[2]
    mid = losses.intensity_sample_weights(targets, 4, 10)
    assert bool((first[1:] < mid[1:]).all() and (mid[1:] < last[1:]).all())
    # a handful of clutter pixels does not make a sample "severe"
    clutter = torch.zeros(1, 12, 32, 32)
    clutter[0, 0, 0, :3] = 1.0
    assert float(losses.intensity_sample_weights(clutter, 9, 10)) == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_a_few_gradient_steps_reduce_the_loss(name):
    model = build_model(name)
    x = torch.rand(2, 6, 32, 32) ** 2
    target = torch.roll(x[:, -1:], shifts=2, dims=-1).expand(2, 12, 32, 32).contiguous()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def loss_fn():
        pred = model(x)
        return losses.dynamic_loss(pred, target, 0, 4) + 0.01 * model.aux_loss

    first = None
    for _ in range(6):
        loss = loss_fn()
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(loss_fn()) < first


def test_pa_net_routes_by_the_advected_intensity():
    """The routing intensity is where the rain will be: a frame with no echo but an
    advected forecast of 55 dBZ gets 4 experts per token."""
    model = build_model("pa_net")
    x = torch.zeros(1, 6, 64, 64)
    adv = torch.full((1, 12, 64, 64), _dbz(55.0))
    with torch.no_grad():
        model(x, adv, torch.zeros(1, 2, 64, 64))
    assert model.stats["k_by_bin"][">=45"] == 4.0 and model.stats["k_by_bin"]["<20"] is None


def test_metok_composite_key_orders_level_then_trend_then_texture():
    from hvrmet.nowcast.models.metok import composite_key

    x = torch.zeros(1, 6, 32, 32)
    x[:, :, :16, :16] = _dbz(40.0)                             # steady 40 dBZ, flat
    x[:, -1, :16, 16:] = _dbz(25.0)                            # 20-35 dBZ, growing (new)
    x[:, :, 16:, :16] = _dbz(25.0)                             # 20-35 dBZ, steady
    x[:, :, 16:, 16:][..., ::2, :] = _dbz(30.0)                # 20-35 dBZ, steady, textured
    x[:, :, 16:, 16:][..., 1::2, :] = _dbz(20.0)
    adv = x[:, -1:].expand(1, 12, 32, 32)
    key, parts = composite_key(x, adv, torch.zeros(1, 2, 32, 32), 16)
    level, trend, tex = parts["level"][0].tolist(), parts["trend"][0].tolist(), parts["texture"][0].tolist()
    assert level == [3.0, 2.0, 2.0, 2.0] and trend == [0.0, 1.0, 0.0, 0.0]
    assert tex[0] == 0.0 and tex[3] > 0.0
    k = key[0].tolist()
    assert k[0] > k[1] > k[3] > k[2]                           # level first, then trend, then texture
    model = build_model("metok")
    with torch.no_grad():
        model(_quadrants())
    assert model.stats["within_group_level_std"] == 0.0       # 64-token groups each one level


def test_pixel_weights_survive_normalisation_by_hand():
    """Two pixels at the last epoch: 50 dBZ (weight 1 + 1 + 3 + 8 = 13) and 10 dBZ (weight
    1), each forecast 7 dBZ (0.1) too low; normaliser 1 + 1*0.5 + 3*0.1 + 8*0.05 = 2.2."""
    lf = (0.5, 0.1, 0.05)
    target = torch.tensor([_dbz(50.0), _dbz(10.0)]).view(1, 1, 1, 2)
    pred = target - 0.1
    w = losses.pixel_intensity_weights(target, pred, 9, 10)
    assert w.flatten().tolist() == [13.0, 1.0]
    norm = losses.intensity_norm(lf, 9, 10)
    assert norm == pytest.approx(2.2)
    e = 0.1 + 0.01
    assert float(losses.weighted_error(pred, target, w, norm)) == pytest.approx((13 * e + 1 * e) / 2 / 2.2, rel=1e-5)
    # an all-heavy batch costs 13x an all-light batch with the same errors: the weights are
    # not divided away by their own sum (the seed's per-sample weights were)
    heavy = torch.full((4, 12, 8, 8), _dbz(50.0))
    light = torch.full((4, 12, 8, 8), _dbz(10.0))
    lh = losses.weighted_error(heavy - 0.1, heavy, losses.pixel_intensity_weights(heavy, heavy - 0.1, 9, 10), norm)
    ll = losses.weighted_error(light - 0.1, light, losses.pixel_intensity_weights(light, light - 0.1, 9, 10), norm)
    assert float(lh / ll) == pytest.approx(13.0, rel=1e-5)
    ws = losses.intensity_sample_weights(heavy, 9, 10)
    assert float((ws / ws.sum()).sum()) == pytest.approx(1.0)     # what renormalising did: no emphasis left
    # at the first epoch the emphasis is ramped down (s = 0.25): 1 + 0.25 * 12 = 4
    assert float(losses.pixel_intensity_weights(heavy[:1, :1, :1, :1], None, 0, 10)) == 4.0


def test_dynamic_loss_is_normalised_by_a_constant_by_hand():
    """dynamic_norm = (1 + s sum g_i p_i)(1 + lead_gain/2)(1 + s under_gain 0.5 sum p_i / 3)."""
    lf = (0.3, 0.03, 0.003)
    s = 0.25 + 0.75 * 4 / 9
    expect = (1 + s * (0.3 + 2 * 0.03 + 4 * 0.003)) * 1.5 * (1 + s * 2 * 0.5 * 0.333 / 3)
    assert losses.dynamic_norm(4, 10, lf) == pytest.approx(expect)
    target = torch.full((1, 12, 4, 4), _dbz(50.0))
    raw = losses.dynamic_loss(target - 0.1, target, 4, 10, normalise=False)
    assert float(losses.dynamic_loss(target - 0.1, target, 4, 10, level_fractions=lf)) == pytest.approx(
        float(raw) / expect, rel=1e-6)
    # the normaliser does not look at the batch: heavy pixels still weigh more than light ones
    light = torch.full((1, 12, 4, 4), _dbz(10.0))
    assert float(losses.dynamic_loss(target - 0.1, target, 4, 10)) > 3 * float(
        losses.dynamic_loss(light - 0.1, light, 4, 10))


def test_soft_csi_and_hss_by_hand_and_in_the_hard_limit():
    import numpy as np
    import hvrmet._pysteps  # noqa: F401
    from pysteps.verification import det_cat_fct

    target = torch.tensor([50.0, 50.0, 10.0, 10.0, 40.0]) / 70.0
    pred = torch.tensor([49.0, 20.0, 48.0, 5.0, 5.0]) / 70.0
    ct = losses.soft_contingency(pred, target, 45.0, tau_dbz=1e-3)
    assert [round(float(ct[k]), 6) for k in ("hits", "misses", "false_alarms", "correct_negatives")] == [1, 1, 1, 2]
    assert float(losses.soft_csi(ct)) == pytest.approx(1 / 3, abs=1e-5)
    ref = det_cat_fct(pred.numpy() * 70, target.numpy() * 70, 45.0, ["HSS"])["HSS"]
    assert float(losses.soft_hss(ct)) == pytest.approx(ref, abs=1e-5)
    # soft (tau = 2 dBZ) is differentiable and rewards moving a miss above the threshold
    p = pred.clone().requires_grad_(True)
    loss = 1 - losses.soft_csi(losses.soft_contingency(p, target, 45.0))
    loss.backward()
    assert float(p.grad[1]) < 0 and float(p.grad[2]) > 0     # raise the miss, lower the false alarm
    assert float(losses.skill_loss(torch.zeros(1, 12, 4, 4), torch.zeros(1, 12, 4, 4))) == 0.0
