"""shared.seed.deterministic_kernels: torch's deterministic mode without importing torch._inductor (issue 18)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_deterministic_kernels_sets_the_same_flags_without_importing_inductor():
    code = (
        "import sys, torch\n"
        "from shared.seed import seed_everything\n"
        "seed_everything(0)\n"
        "assert torch.are_deterministic_algorithms_enabled()\n"
        "assert torch.is_deterministic_algorithms_warn_only_enabled()\n"
        "assert 'torch._inductor.config' not in sys.modules\n"
        "import torch._inductor.config as c\n"
        "assert c.deterministic is True  # what torch.use_deterministic_algorithms(True) would have set\n"
        "seed_everything(1)  # with the module loaded: the public call\n"
        "assert c.deterministic is True and torch.are_deterministic_algorithms_enabled()\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "TORCHINDUCTOR_DETERMINISTIC"}
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, timeout=120)
