"""Tomita case study: SNNs that recognise the seven Tomita grammars, their exact machines
extracted and compared with the grammars' minimal automata.

Per grammar (:mod:`grammars`), a small recurrent SNN reads a word over the two letters
``a`` and ``b`` one letter at a time. A letter is ``w`` network steps (``letter_steps`` in
``config.yaml``) on two input channels: ``a`` spikes on channel 0 at the letter's first
step, ``b`` on channel 1; the network state carries over from letter to letter. After each
letter the network decides over that letter's ``w`` steps (output neuron 1 spiking more
than neuron 0 means "the word read so far is in the language"; ``ties: lowest_index``, so
silence means "not in it"). The network is

    2 inputs -> H recurrent LIF neurons -> 2 output LIF neurons,

trained with surrogate gradients (:class:`verisnn.torch_sim.SpikingNetwork` in training
mode) on fresh batches of random words, the loss being the cross-entropy of each letter
window's spike counts against the membership of the prefix ending there (every letter
of every word is a labelled example). Half of the words are uniformly random, half are
steered away from the grammar's dead state, so that both labels are seen at every length;
a curriculum grows the words from ``start_length`` letters to ``word_length``. The hidden
neurons' membranes do not outlast a step (``v_decay: [0, 0]``): the network's memory is
its recurrent spikes, and its reachable integer states are few.

Every ``eval_every`` steps (once the float network is nearly right on its batch) the
network is quantized (:func:`verisnn.quantize.to_model`) at each candidate scale and the
integer model is run on the validation words: every word of ``validation.length`` letters
(so every shorter word, as a prefix) and random words of ``validation.random_length``. The
best integer model is kept (most letters right, then the smallest scale, which keeps the
reachable state space small); training stops as soon as one is perfect, and otherwise
starts again from another initialisation, up to ``attempts`` times.

Then, on the integer model (the model file's ``time_steps`` is one letter, ``w``):

* **exact machine**: :func:`verisnn.automaton.build_automaton` explores every network
  state reachable by any word and builds the Mealy machine of the network's decisions,
  which is minimised and compared with the grammar's minimal prefix machine
  (:func:`grammars.prefix_machine`) by :meth:`~verisnn.automaton.MealyMachine.equivalent`.
  Equal means the network decides membership correctly for *every* word of every length;
  otherwise the shortest word on which they differ is replayed on the reference simulator
  (:func:`verisnn.automaton.replay`) to show what the network really does on it;
* **held-out words**: per-letter accuracy of the integer model on random words of
  ``test.length`` letters (drawn as in training, from a separate seed); and the exact
  machine is checked against :func:`~verisnn.automaton.replay` on a few of them.

A grammar counts as ``learned`` only when its exact machine is equivalent to the
grammar's; accuracies are reported beside it, never instead of it.

Run: ``python build.py [--out DIR] [--grammars 1,2,4] [--json]``. Writes into ``DIR``
(default ``artifacts/tomita``): ``alphabet.json`` (for ``verisnn automaton``), per grammar
``T<k>/tomita<k>.snn.json`` (the integer model), ``T<k>/automaton.*`` (the network's
minimal machine: JSON, DOT, SMV, AALpy DOT), ``T<k>/grammar.*`` (the grammar's minimal
prefix machine), and ``summary.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # grammars.py beside this file

from grammars import DFA, GRAMMARS, LETTERS, OUTPUTS, prefix_machine  # noqa: E402

from verisnn.automaton import Alphabet, MealyMachine, build_automaton, replay, save_machine  # noqa: E402
from verisnn.documents import load_document  # noqa: E402
from verisnn.errors import VerisnnError  # noqa: E402
from verisnn.model import InputSpec, Model, Neuron, Readout  # noqa: E402
from verisnn.model_format import neuron_from_dict, save_model  # noqa: E402
from verisnn.quantize import to_model  # noqa: E402
from verisnn.readout import decide  # noqa: E402
from verisnn.simulator import simulate  # noqa: E402
from verisnn.torch_sim import LayerSpec, SpikingNetwork  # noqa: E402

CONFIG = Path(__file__).with_name("config.yaml")


# ----------------------------------------------------------------------------- configuration


def load_config(path: Path = CONFIG) -> dict:
    return load_document(path, 1 << 20, VerisnnError, "config")  # strict: no aliases, tags or duplicate keys


def grammar_config(config: dict, k: int) -> dict:
    """The defaults of ``config`` with grammar ``k``'s overrides (``training`` merged key by key)."""
    over = dict((config.get("grammars") or {}).get(k) or {})
    cfg = {key: value for key, value in config.items() if key != "grammars"}
    cfg["training"] = {**config["training"], **over.pop("training", {})}
    cfg.update(over)
    return cfg


# ----------------------------------------------------------------------------- words and letters


def alphabet(w: int) -> Alphabet:
    """The letters as rasters of ``w`` steps: ``a`` spikes on channel 0 at the first step,
    ``b`` on channel 1."""
    rasters = np.zeros((len(LETTERS), w, len(LETTERS)), dtype=np.int8)
    for k in range(len(LETTERS)):
        rasters[k, 0, k] = 1
    return Alphabet(LETTERS, rasters)


def sample_words(dfa: DFA, rng: np.random.Generator, n: int, length: int, p_random: float = 0.3) -> np.ndarray:
    """``n`` words of ``length`` letters (letter indices ``[n, length]``): the even rows
    uniformly random, the odd rows steered away from dead states (each letter uniformly
    random with probability ``p_random``, else one that keeps the word alive if any does)."""
    delta = np.array(dfa.delta, dtype=np.int64)
    alive = np.array([q in dfa.live_states() for q in range(dfa.num_states)])[delta]  # [state, letter]
    uniform = np.arange(n) % 2 == 0
    state, words = np.zeros(n, dtype=np.int64), np.zeros((n, length), dtype=np.int64)
    for t in range(length):
        letter = rng.integers(0, len(LETTERS), n)
        steered = np.where(alive[state, letter], letter, 1 - letter)
        letter = np.where(uniform | (rng.random(n) < p_random), letter, steered)
        words[:, t] = letter
        state = delta[state, letter]
    return words


def all_words(length: int) -> np.ndarray:
    """Every word of ``length`` letters, ``[2^length, length]`` letter indices."""
    codes = np.arange(1 << length)[:, None] >> np.arange(length - 1, -1, -1)[None, :]
    return (codes & 1).astype(np.int64)


def prefix_labels(dfa: DFA, words: np.ndarray) -> np.ndarray:
    """``[n, length]``: 1 where the prefix ending at that letter is in the language."""
    delta, accepting = np.array(dfa.delta, dtype=np.int64), np.array(dfa.accepting, dtype=np.int64)
    state, labels = np.zeros(len(words), dtype=np.int64), np.zeros(words.shape, dtype=np.int64)
    for t in range(words.shape[1]):
        state = delta[state, words[:, t]]
        labels[:, t] = accepting[state]
    return labels


def rasters_of(letters: Alphabet, words: np.ndarray) -> np.ndarray:
    """``[n, length * w, channels]`` input rasters of letter-index words."""
    return letters.rasters[words].reshape(len(words), -1, letters.n)


def letter_decisions(model: Model, letters: Alphabet, words: np.ndarray) -> np.ndarray:
    """The integer model's decision after each letter, ``[n, length]`` (-1: none): one
    reference-simulator run per word over all its letters, read out per letter window —
    what :func:`verisnn.automaton.replay` does for one word, here for a batch."""
    n, length = words.shape
    run = simulate(dataclasses.replace(model, time_steps=length * letters.w), rasters_of(letters, words))
    out = run.layer_outputs[-1]  # [n, length * w, classes]
    windows = out.reshape(n * length, letters.w, -1).transpose(1, 0, 2)  # [w, n * length, classes]
    return decide(model.readout, windows).reshape(n, length)


# ----------------------------------------------------------------------------- the network


def _neuron(spec: dict, size: int) -> Neuron:
    return neuron_from_dict({"threshold": 1, **spec}, size)


def network(cfg: dict, seed: int) -> SpikingNetwork:
    """The float network; it runs whole training words (``word_length`` letters of ``w`` steps)."""
    hidden = cfg["hidden"]
    n_in = len(LETTERS)
    specs = [LayerSpec("dense", n_in, hidden, _neuron(cfg["neuron"], hidden), recurrent=True),
             LayerSpec("dense", hidden, 2, _neuron(cfg["output_neuron"], 2))]
    return SpikingNetwork(specs, cfg["letter_steps"] * int(cfg["training"]["word_length"]), Readout(**cfg["readout"]),
                          seed=seed, slope=float(cfg["training"]["slope"]))


def integer_model(net: SpikingNetwork, scale: float, w: int, name: str, provenance: dict) -> Model:
    """The integer model at ``scale``; its ``time_steps`` is one letter (``w``), the unit the
    automaton and ``verisnn simulate`` read (longer words: :func:`letter_decisions`)."""
    model = to_model(net, scale, input_spec=InputSpec(size=len(LETTERS)), name=name, provenance=provenance)
    return dataclasses.replace(model, time_steps=w)


@dataclasses.dataclass
class Trained:
    """The kept integer model and how it was found."""

    model: Model
    scale: float
    validation_accuracy: float
    seed: int  # of the attempt that produced it
    attempt: int
    step: int  # training step (within its attempt) at which it was quantized
    steps_run: int  # training steps over all attempts
    time_s: float
    history: list[dict]


def _validated(net: SpikingNetwork, cfg: dict, name: str, provenance: dict,
               validation: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Model, float, float]:
    """The best integer model of ``net`` over the candidate scales (smallest first; stops at
    the first perfect one): ``(model, scale, fraction of validation letters right)``."""
    letters, best = alphabet(cfg["letter_steps"]), None
    total = sum(labels.size for _, labels in validation)
    for scale in cfg["quantization"]["scales"]:
        model = integer_model(net, float(scale), cfg["letter_steps"], name, provenance)
        right = sum(int(np.sum(letter_decisions(model, letters, words) == labels)) for words, labels in validation)
        acc = right / total
        if best is None or acc > best[2]:
            best = (model, float(scale), acc)
        if acc == 1.0:
            break
    return best


def train_attempt(dfa: DFA, cfg: dict, seed: int, name: str, provenance: dict,
                  validation: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Trained, int]:
    """One training run from the initialisation of ``seed``; returns its best integer model
    and the number of steps it ran."""
    tc = cfg["training"]
    provenance = {**provenance, "seed": seed}
    letters, w = alphabet(cfg["letter_steps"]), cfg["letter_steps"]
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = network(cfg, seed)
    opt = torch.optim.Adam(net.parameters(), lr=float(tc["lr"]))
    B, L, steps = int(tc["batch_size"]), int(tc["word_length"]), int(tc["steps"])
    best, history = None, []
    for step in range(1, steps + 1):
        # Curriculum: words grow from start_length letters by one every length_every steps, so
        # the network first learns the transitions near the initial state.
        length = min(L, int(tc["start_length"]) + (step - 1) // int(tc["length_every"]))
        net.time_steps = length * w
        net.train()
        words = sample_words(dfa, rng, B, length)
        labels = torch.as_tensor(prefix_labels(dfa, words))
        x = torch.as_tensor(rasters_of(letters, words), dtype=torch.float32)
        counts = net(x, exact=False)[-1].reshape(B, length, w, 2).sum(dim=2)  # spike counts per letter window
        accept_rate = labels.float().mean().clamp(0.05, 0.95)
        weight = torch.stack([0.5 / (1 - accept_rate), 0.5 / accept_rate])  # balance the two labels
        loss = torch.nn.functional.cross_entropy((counts * float(tc["logit_scale"])).reshape(-1, 2),
                                                 labels.reshape(-1), weight=weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), float(tc["clip"]))
        opt.step()
        # The integer check costs a few runs over the validation words: only when the float
        # network is nearly right on this batch (ties read as reject, like lowest_index).
        batch_acc = float(((counts[..., 1] > counts[..., 0]).long() == labels).float().mean())
        due = step % int(tc["eval_every"]) == 0 and batch_acc >= float(tc["eval_from"])
        if not (due or step == steps):
            continue
        net.eval()
        model, scale, acc = _validated(net, cfg, name, provenance, validation)
        if best is None or acc > best.validation_accuracy:
            best = Trained(model, scale, acc, seed, 0, step, 0, 0.0, history)
        history.append({"seed": seed, "step": step, "loss": round(loss.item(), 5), "batch_accuracy": batch_acc,
                        "validation_accuracy": acc})
        if acc == 1.0:
            break
    return best, step


def train(dfa: DFA, cfg: dict, seed: int, name: str, provenance: dict) -> Trained:
    """Train the float network on random words and keep the best integer model on the
    validation words (see the module docstring); up to ``attempts`` runs from different
    initialisations (seeds ``seed``, ``seed + 100``, ...), stopping at the first perfect one."""
    t0 = time.perf_counter()
    vc = cfg["validation"]
    short = all_words(int(vc["length"]))  # every word up to this length, as prefixes
    long = sample_words(dfa, np.random.default_rng(seed + 10**5), int(vc["random_words"]), int(vc["random_length"]))
    validation = [(words, prefix_labels(dfa, words)) for words in (short, long)]
    best, steps_run, history = None, 0, []
    for attempt in range(int(cfg["training"]["attempts"])):
        trained, steps = train_attempt(dfa, cfg, seed + 100 * attempt, name, provenance, validation)
        steps_run += steps
        history += trained.history
        if best is None or trained.validation_accuracy > best.validation_accuracy:
            best = dataclasses.replace(trained, attempt=attempt)
        if best.validation_accuracy == 1.0:
            break
    return dataclasses.replace(best, steps_run=steps_run, time_s=time.perf_counter() - t0, history=history)


# ----------------------------------------------------------------------------- extraction and comparison


def _word(letters) -> str:
    return "".join(letters)


def compare(model: Model, dfa: DFA, cfg: dict, rng: np.random.Generator) -> tuple[dict, MealyMachine | None]:
    """Explore the integer model's exact machine, minimise it, compare it with the grammar's."""
    letters = alphabet(cfg["letter_steps"])
    ex = cfg["exploration"]
    result = build_automaton(model, letters, max_states=int(ex["max_states"]), timeout=float(ex["timeout_s"]))
    grammar = prefix_machine(dfa).minimize()
    row = {"exploration": result.status, "states_explored": result.states_explored,
           "reachable_states": None, "minimal_states": None, "equal": None, "distinguishing_word": None,
           "network_on_word": None, "grammar_on_word": None, "replay_agrees": None,
           "extract_time_s": round(result.time_s, 4), "reason": result.reason}
    if result.machine is None:
        return row, None
    machine = result.machine.minimize()
    row.update(reachable_states=result.machine.num_states, minimal_states=machine.num_states)
    # The machine is the network's behaviour on every word: check it on held-out words against
    # the reference simulator, one run per word (independent of the exploration).
    checks = sample_words(dfa, rng, 8, 24)
    row["replay_agrees"] = all(replay(model, letters, list(w)) == machine.run(list(w)) for w in checks.tolist())
    word = machine.equivalent(grammar)
    row["equal"] = word is None
    if word is not None:
        network_says = replay(model, letters, word)[-1]
        row.update(distinguishing_word=_word(word), network_on_word=network_says,
                   grammar_on_word=int(dfa.accepts(_word(word))))
    return row, machine


def build(grammars: list[int], out: Path, config: dict | None = None, progress: bool = True) -> dict:
    """Train, quantize, extract and compare every grammar in ``grammars``; write the artifacts
    into ``out``; return the summary (also written as ``out/summary.json``)."""
    config = config or load_config()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same float sums on every machine, and no oversubscribed shared cores
    try:
        return _build(grammars, out, config, progress)
    finally:
        torch.set_num_threads(threads)


def _build(grammars: list[int], out: Path, config: dict, progress: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    rows = {}
    for k in grammars:
        t0 = time.perf_counter()
        dfa, cfg = GRAMMARS[k], grammar_config(config, k)
        seed = int(cfg["seed"]) * 1000 + k
        letters = alphabet(cfg["letter_steps"])
        provenance = {"trained_with": f"verisnn Tomita case study, surrogate-gradient BPTT (torch {torch.__version__})",
                      "grammar": f"Tomita {k}: {dfa.description}", "alphabet": letters.to_json()}
        trained = train(dfa, cfg, seed, f"tomita{k}", provenance)
        folder = out / f"T{k}"
        folder.mkdir(exist_ok=True)
        model_path = folder / f"tomita{k}.snn.json"
        digest = save_model(trained.model, model_path)
        (folder / "training.json").write_text(json.dumps(trained.history, indent=1) + "\n")
        test_rng = np.random.default_rng(seed + 10**6)  # held out: never used in training or selection
        test_words = sample_words(dfa, test_rng, int(cfg["test"]["words"]), int(cfg["test"]["length"]))
        test_labels = prefix_labels(dfa, test_words)
        test_acc = float(np.mean(letter_decisions(trained.model, letters, test_words) == test_labels))
        row, machine = compare(trained.model, dfa, cfg, test_rng)
        grammar = prefix_machine(dfa).minimize()
        grammar.provenance = {"grammar": f"Tomita {k}: {dfa.description}", "outputs": "1 = prefix in the language"}
        save_machine(grammar, folder, "grammar")
        if machine is not None:
            save_machine(MealyMachine(machine.inputs, machine.next_state, machine.output, machine.initial, OUTPUTS,
                                      machine.steps_per_letter,
                                      {"model_sha256": digest, "model_name": trained.model.name, "minimized": True,
                                       "letters": letters.to_json()["letters"]}), folder, "automaton")
        rows[f"T{k}"] = {
            "grammar": dfa.description, "learned": bool(row["equal"]), "equal": row["equal"],
            "dfa_states": dfa.num_states, "grammar_mealy_states": grammar.num_states,
            **{key: row[key] for key in ("minimal_states", "reachable_states", "states_explored",
                                          "distinguishing_word", "network_on_word", "grammar_on_word",
                                          "replay_agrees", "exploration", "reason")},
            "validation_accuracy": trained.validation_accuracy, "test_accuracy": test_acc,
            "scale": trained.scale, "hidden": cfg["hidden"], "letter_steps": cfg["letter_steps"],
            "attempt": trained.attempt, "seed": trained.seed, "train_steps": trained.step,
            "train_steps_run": trained.steps_run,
            "train_time_s": round(trained.time_s, 2), "extract_time_s": row["extract_time_s"],
            "time_s": round(time.perf_counter() - t0, 2), "model": str(model_path), "sha256": digest}
        if progress:
            r = rows[f"T{k}"]
            verdict = "equal" if r["equal"] else ("not equal: " + str(r["distinguishing_word"]) if r["equal"] is False
                                                  else f"exploration {r['exploration']}")
            print(f"T{k} {dfa.description:<52} test {test_acc:.4f}  machine {r['minimal_states']} states "
                  f"(DFA {r['dfa_states']})  {verdict}  [{r['time_s']:.1f} s]", file=sys.stderr, flush=True)
    (out / "alphabet.json").write_text(json.dumps(alphabet(config["letter_steps"]).to_json()) + "\n")
    summary = {"letters": {"a": "channel 0 at the first step", "b": "channel 1 at the first step"},
               "letter_steps": config["letter_steps"], "grammars": rows,
               "learned": [name for name, r in rows.items() if r["learned"]],
               "time_s": round(time.perf_counter() - t_all, 2)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _grammar_list(text: str) -> list[int]:
    try:
        ks = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected grammar numbers like 1,2,4; got {text!r}") from None
    if not ks or any(k not in GRAMMARS for k in ks):
        raise argparse.ArgumentTypeError(f"grammars are numbered 1..7; got {text!r}")
    return sorted(set(ks))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build the Tomita case study (see the module docstring).")
    parser.add_argument("--out", default=str(Path("artifacts") / "tomita"), help="output folder")
    parser.add_argument("--grammars", type=_grammar_list, default=sorted(GRAMMARS), metavar="K,K,...",
                        help="which grammars (default: all seven)")
    parser.add_argument("--seed", type=int, default=None, help="base seed (default: config.yaml's)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args(argv)
    config = load_config()
    if args.seed is not None:
        config["seed"] = args.seed
    try:
        summary = build(args.grammars, Path(args.out), config, progress=not args.json)
    except VerisnnError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"learned exactly: {', '.join(summary['learned']) or 'none'}; total {summary['time_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
