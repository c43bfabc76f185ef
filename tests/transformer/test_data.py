"""§5.1 data pipeline: shared BPE, token-count batches, collation, corpora readers, synthetic task."""
import io
import tarfile

import pytest
import torch

from papers.transformer import data as D
from shared.data import registry

TEXT = ["Ein Mann fährt Fahrrad.", "A man rides a bike.", "Zwei Hunde spielen im Schnee.",
        "Two dogs play in the snow.", "Eine Frau liest ein Buch.", "A woman reads a book."] * 5


def test_bpe_shared_vocab_round_trip(tmp_path):
    v = D.BPEVocab.train(TEXT, vocab_size=120, min_frequency=1)
    assert (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (0, 1, 2, 3) and len(v) <= 120
    ids = v.encode(TEXT[:4])
    assert v.decode(ids) == TEXT[:4]                       # detokenised text comes back exactly
    v.save(tmp_path / "bpe.json")
    assert D.BPEVocab.load(tmp_path / "bpe.json").encode(TEXT[:2]) == ids[:2]


def test_collate_places_bos_eos_and_padding():
    src, tgt_in, tgt_out = D.collate([([5, 6], [7]), ([8], [9, 10, 11])])
    assert src.tolist() == [[5, 6, 2], [8, 2, 0]]
    assert tgt_in.tolist() == [[1, 7, 0, 0], [1, 9, 10, 11]]
    assert tgt_out.tolist() == [[7, 2, 0, 0], [9, 10, 11, 2]]


def test_token_batches_bound_tokens_and_cover_all_pairs():
    g = torch.Generator().manual_seed(0)
    pairs = [(torch.randint(4, 50, (int(n),), generator=g).tolist(), torch.randint(4, 50, (int(m),), generator=g).tolist())
             for n, m in torch.randint(1, 30, (300, 2), generator=g)]
    tb = D.TokenBatches(pairs, max_tokens=200, seed=0, max_len=50)
    seen = 0
    for i in range(len(tb)):
        src, tgt_in, _ = tb[i]
        assert src.numel() <= 200 and tgt_in.numel() <= 200
        seen += src.size(0)
    assert seen == len(pairs) == tb.n_pairs
    with pytest.raises(ValueError, match="max_tokens"):
        D.TokenBatches(pairs, max_tokens=10, max_len=20)
    assert D.unwrap([tb[0]]) is not None
    with pytest.raises(ValueError, match="batch_size"):
        D.unwrap([tb[0], tb[1]])


@pytest.mark.parametrize("kind,expect", [("copy", [7, 5, 9]), ("reverse", [9, 5, 7]), ("sort", [5, 7, 9])])
def test_synthetic_task(kind, expect):
    task = D.SyntheticTask(kind, n_symbols=20, max_len=12)
    assert task.target([7, 5, 9]) == expect and task.vocab_size == 24
    s = task.sample(50, seed=1)
    assert s == task.sample(50, seed=1)
    assert all(1 <= len(x) <= 12 and min(x) >= 4 and max(x) < 24 and y == task.target(x) for x, y in s)
    with pytest.raises(ValueError, match="copy, reverse or sort"):
        D.SyntheticTask("add")


def test_synthetic_parallel_text_is_deterministic():
    a = D.synthetic_parallel_text(20, seed=3)
    assert a == D.synthetic_parallel_text(20, seed=3)
    src, tgt = a[0]
    assert len(src.split()) == len(tgt.split()) and tgt.endswith(".")


def test_read_sgm_and_tar_members(tmp_path):
    sgm = ('<srcset setid="newstest2014" srclang="any">\n<doc docid="1">\n'
           '<seg id="1">Hello &amp; welcome.</seg>\n<seg id="2"> Second line </seg>\n</doc>\n</srcset>\n')
    assert D.read_sgm(sgm.splitlines()) == ["Hello & welcome.", "Second line"]
    path = tmp_path / "dev.tgz"
    with tarfile.open(path, "w:gz") as tar:
        data = sgm.encode()
        info = tarfile.TarInfo("dev/newstest2013-src.en.sgm")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert D.read_sgm(D._tar_lines(path, "dev/newstest2013-src.en.sgm"))[1] == "Second line"
    with pytest.raises(KeyError):
        D._tar_lines(path, "missing.sgm")


def test_wmt14_is_registered_with_checksums():
    spec = registry.spec("wmt14_en_de")
    names = {f.path for f in spec.files}
    assert set(D.WMT14_TRAIN) | {D.WMT14_DEV[0], D.WMT14_TEST[0]} == names
    assert all(f.urls and (f.md5 or f.sha256) for f in spec.files)
    assert set(D.wmt14_checksum_state().values()) == {"md5 verified"}


def test_multi30k_absent_without_data(no_data_env):
    assert not D.multi30k_available(None)


def _tgz(path, members: dict[str, str]):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_wmt14_loader_reads_verified_archives(tmp_path, monkeypatch):
    """The paper preset's reader on tiny stand-in archives, registered with their own md5s."""
    root = tmp_path / "wmt14_en_de"
    root.mkdir()
    for archive, (en, de) in D.WMT14_TRAIN.items():
        _tgz(root / archive, {en: "Hello.\nGood day.\n", de: "Hallo.\nGuten Tag.\n"})
    sgm = lambda xs: "".join(f'<seg id="{i}">{x}</seg>\n' for i, x in enumerate(xs, 1))  # noqa: E731
    _tgz(root / D.WMT14_DEV[0], {D.WMT14_DEV[1]: sgm(["a b"]), D.WMT14_DEV[2]: sgm(["c d"])})
    _tgz(root / D.WMT14_TEST[0], {D.WMT14_TEST[1]: sgm(["x &amp; y"]), D.WMT14_TEST[2]: sgm(["u"])})
    files = tuple(registry.DataFile(p.name, md5=registry.hash_file(p, "md5")) for p in sorted(root.iterdir()))
    monkeypatch.setattr(registry, "USED", {})
    monkeypatch.setitem(registry.REGISTRY, "wmt14_en_de", registry.DatasetSpec("wmt14_en_de", "test", "test", files))
    out = D.load_wmt14_en_de(tmp_path)
    assert out["train"][:2] == [("Hello.", "Hallo."), ("Good day.", "Guten Tag.")] and len(out["train"]) == 6
    assert out["dev"] == [("a b", "c d")] and out["test"] == [("x & y", "u")]
    assert D.load_wmt14_en_de(tmp_path, max_train=3)["train"][2] == ("Hello.", "Hallo.")
    bad = root / D.WMT14_DEV[0]
    bad.write_bytes(b"corrupt")
    with pytest.raises(registry.DataError, match="checksum"):
        D.load_wmt14_en_de(tmp_path)


def test_paper_preset_runs_end_to_end_at_toy_size(tmp_path, monkeypatch, no_data_env):
    """The paper preset's own path (WMT14 En->De reader, BPE, training, averaging, beam, report), shrunk by --set."""
    from papers.transformer import reproduce
    root = tmp_path / "wmt14_en_de"
    root.mkdir()
    en = ["A man rides a bike.", "Two dogs play.", "A woman reads a book.", "The cat sleeps."] * 20
    de = ["Ein Mann fährt Rad.", "Zwei Hunde spielen.", "Eine Frau liest ein Buch.", "Die Katze schläft."] * 20
    for archive, (e, d) in D.WMT14_TRAIN.items():
        _tgz(root / archive, {e: "\n".join(en) + "\n", d: "\n".join(de) + "\n"})
    sgm = lambda xs: "".join(f'<seg id="{i}">{x}</seg>\n' for i, x in enumerate(xs, 1))  # noqa: E731
    _tgz(root / D.WMT14_DEV[0], {D.WMT14_DEV[1]: sgm(en[:4]), D.WMT14_DEV[2]: sgm(de[:4])})
    _tgz(root / D.WMT14_TEST[0], {D.WMT14_TEST[1]: sgm(en[:4]), D.WMT14_TEST[2]: sgm(de[:4])})
    files = tuple(registry.DataFile(p.name, md5=registry.hash_file(p, "md5")) for p in sorted(root.iterdir()))
    monkeypatch.setitem(registry.REGISTRY, "wmt14_en_de", registry.DatasetSpec("wmt14_en_de", "test", "test", files))
    out = tmp_path / "paper"
    reproduce.main(["--preset", "paper", "--out", str(out), "--data-dir", str(tmp_path),
                    "--set", "model.vocab_size=200", "--set", "model.N=1", "--set", "model.d_model=32",
                    "--set", "model.d_ff=64", "--set", "model.h=2",
                    "--set", "tokens_per_step=400", "--set", "max_steps=4", "--set", "warmup=2",
                    "--set", "val_every=2", "--set", "avg_last=2", "--set", "avg_every=2", "--set", "eval_limit=4",
                    "--set", "decode_batch=4", "--set", "n_samples=1", "--set", "syn_steps=2",
                    "--set", "syn_batch=16", "--set", "syn_n_test=8", "--set", "syn_model.d_model=32",
                    "--set", "syn_model.d_ff=64", "--set", "ablations=", "--set", "threads=1"])
    import json
    m = json.loads((out / "metrics.json").read_text())
    assert m["preset"] == "paper" and set(m["environment"]["data"]) >= {f"wmt14_en_de/{f.path}" for f in files}
    by_id = {c["id"]: c for c in m["claims"]}
    assert set(by_id) >= {"params-base", "params-big", "lrate", "bleu"}
    assert by_id["bleu"]["paper"] == 27.3       # Table 2's number for the paper's own setting (scored at full size)
