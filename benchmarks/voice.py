"""Voice benchmark: one-minute fit, words heard and caption timing of the offline voices on 10 news scripts.

    python benchmarks/voice.py [--voices espeak,piper] [--scripts 10] [--out DIR]

For every fixed script (about 150 words, so nothing depends on the language model) and voice, the narration is
made with the voice's one-minute fit (target 60 s) and captioned with the default `subtitles` provider. Reported:

- narration length against the 60 s target (all must be within +-5 %);
- words missed: the share of the script's words that a held-out listener (faster-whisper tiny.en, beam search 5)
  does not hear as written;
- caption start-time error: how far each word's start (the time a karaoke word lights up) and each cue's start lie
  from that listener's word timestamps (heard words matched to the script, only words heard exactly as written are
  compared, never interpolated ones). The reference is independent of both voices' own times: espeak's come from
  libespeak-ng word events, piper's from its model's phoneme durations;
- the voice stage's wall seconds, its CPU seconds (this process and its children, user + sys) and the load average
  (the machine may be shared: CPU seconds are the steadier number).

`--voices` takes `auto` too: the default voice, resolved as a run would (piper when installed, else espeak).
Prints markdown tables and a summary; exits 1 if a narration misses the +-5 % window, a voice misses more than 10 %
of its words, or a median start error is more than 0.15 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.align import (  # noqa: E402
    HeardWord,  # noqa: E402
    align_words,
    load_model,
    pauses,
    read_wav_mono,
    resolve_model,
    snap_to_pauses,
)
from pipeline.providers.captions.subtitles import SubtitleCaptions  # noqa: E402
from pipeline.stages.script import Script  # noqa: E402
from pipeline.words import split_words  # noqa: E402

TARGET = 60.0
SCRIPTS: list[tuple[str, list[str]]] = [
    (
        "Battery startup promises ten-minute charging",
        [
            "A small startup has unveiled a battery that it says can charge an electric car in ten minutes.",
            "The company, founded by former university researchers, used a new silicon material for the anode.",
            "Independent experts called the results promising but warned that laboratory tests often fail to scale.",
            "The firm plans to build a pilot factory next year with support from two large carmakers.",
            "Investors have already put more than three hundred million dollars into the project.",
            "Several rival firms are working on similar ideas, but none has shown results on this scale so far.",
            "Analysts say cheaper and faster batteries could speed up the switch away from petrol.",
            "Critics point out that the supply of silicon of the right purity is still limited.",
            "Officials in several countries have welcomed the news and promised to study the technology closely.",
            "Shares in the company rose sharply after the announcement, and its founders say the first cars could use the battery within three years.",
        ],
    ),
    (
        "City council approves new bridge over the river",
        [
            "The city council voted on Monday night to approve a new bridge across the river.",
            "The crossing will link the old town with the growing neighbourhoods on the eastern bank.",
            "Supporters say it will cut commuting times by up to twenty minutes for thousands of residents.",
            "Opponents argued that the money would be better spent on buses and repairs to existing roads.",
            "The project is expected to cost about one hundred and forty million dollars.",
            "Construction could begin next spring if the final environmental review goes smoothly.",
            "Engineers say the design includes wide lanes for cyclists and pedestrians.",
            "Residents will be able to comment on the plans at three public meetings over the summer.",
            "Local shop owners hope the bridge will bring more visitors to the historic centre.",
            "The mayor called the vote a turning point for the city and promised regular public updates as work goes on.",
        ],
    ),
    (
        "Heatwave breaks temperature records across southern Europe",
        [
            "A powerful heatwave has broken temperature records in several countries across southern Europe.",
            "Thermometers in parts of Spain and Italy climbed above forty five degrees on Tuesday afternoon.",
            "Health officials urged people to stay indoors during the hottest hours and to drink plenty of water.",
            "Hospitals reported a rise in patients suffering from heat stroke and dehydration.",
            "Firefighters are battling dozens of wildfires fuelled by dry winds and parched vegetation.",
            "Several popular tourist sites have shortened their opening hours to protect visitors and staff.",
            "Scientists say such extreme heat is becoming more frequent as the climate warms.",
            "Farmers warn that the harvest of olives and grapes could suffer badly this year.",
            "In some towns, local authorities have opened cool rooms in libraries and schools for older residents.",
            "Forecasters expect slightly cooler air to arrive at the weekend, but they say the relief may not last long.",
        ],
    ),
    (
        "Space agency delays lunar mission after engine test",
        [
            "The space agency has postponed its next lunar mission after problems during an engine test.",
            "Engineers noticed unusual vibrations when the main engine fired for several minutes last week.",
            "Officials said the safety of the crew comes first and that no launch date has been set.",
            "The mission aims to land two astronauts near the south pole of the moon.",
            "Scientists hope to study ice hidden in deep craters that never see sunlight.",
            "The delay could add hundreds of millions of dollars to the cost of the programme.",
            "International partners building parts of the spacecraft said they understood the decision.",
            "A full report on the engine test is expected within the next two months.",
            "Some lawmakers have questioned whether the schedule was ever realistic, given the size of the budget.",
            "Until then, teams will continue training and checking every system on the rocket, the agency said in a statement.",
        ],
    ),
    (
        "Central bank holds interest rates steady",
        [
            "The central bank has decided to keep interest rates unchanged for the third month in a row.",
            "Policy makers said inflation is slowing but remains above their target of two percent.",
            "The decision was widely expected by economists and financial markets.",
            "Borrowing costs for homeowners and businesses will therefore stay at their current levels.",
            "Some members of the committee argued that a small cut would help the struggling housing sector.",
            "Others warned that lowering rates too early could push prices up again.",
            "The bank's governor said future moves would depend on fresh data about wages and spending.",
            "Stock markets rose slightly after the announcement, while the currency weakened a little.",
            "Consumer groups said families are still struggling with high bills for food, energy and rent.",
            "The next meeting is scheduled for early next month, when new forecasts for growth and prices will be published.",
        ],
    ),
    (
        "Scientists discover new species in deep ocean trench",
        [
            "Marine scientists have discovered dozens of new species living in a deep ocean trench.",
            "The expedition used a remotely operated vehicle to explore depths of more than six thousand metres.",
            "Among the finds are a pale shrimp, a tiny octopus and several kinds of glowing worms.",
            "Researchers say the creatures survive crushing pressure, total darkness and near freezing water.",
            "Samples were brought to the surface and will be studied in laboratories over the coming months.",
            "The team also recorded plastic waste on the sea floor, far from any coast.",
            "Some of the animals had never been seen alive before, only as damaged specimens caught in nets.",
            "Conservation groups said the discovery shows how little we know about the deep sea.",
            "They are calling for stronger protection before mining companies begin to search the area for metals.",
            "The scientists plan to return next year with new cameras and hope to find even more unknown animals.",
        ],
    ),
    (
        "Rail workers announce nationwide strike",
        [
            "Rail workers have announced a nationwide strike that will begin at midnight on Friday.",
            "The union says talks over pay and working conditions have broken down after months of negotiation.",
            "Train companies warned passengers to expect severe disruption and to travel only if necessary.",
            "Most long distance services are expected to be cancelled, and many local lines will close early.",
            "The transport minister urged both sides to return to the table and find a fair agreement.",
            "Business groups say the strike could cost the economy millions of dollars every day.",
            "Commuters interviewed at the main station said they were frustrated but understood the workers' concerns.",
            "Bus operators are adding extra services to help people reach work and school.",
            "Many companies have told their staff to work from home for as long as the strike continues.",
            "Union leaders said further strikes are possible next month unless the employers make a better offer soon.",
        ],
    ),
    (
        "New museum opens with record crowds",
        [
            "A new museum of science and design opened its doors on Saturday to record crowds.",
            "More than twenty thousand visitors passed through the gates during the first weekend.",
            "The building, made largely of wood and glass, took five years to complete.",
            "Its galleries explore everything from early printing presses to modern robots.",
            "Children can build their own machines in a large workshop on the ground floor.",
            "The director said the museum wants to inspire young people to study engineering and art.",
            "Entry is free for the first month, thanks to support from local businesses and donors.",
            "A cafe on the roof offers views across the harbour and the old city walls.",
            "Some residents complained about traffic and noise around the site on opening day.",
            "City officials promised more buses and better signs, and they expect the museum to attract a million visitors a year.",
        ],
    ),
    (
        "Farmers turn to drones to save water",
        [
            "Farmers across the region are turning to drones to help them use less water.",
            "The small aircraft fly over fields and take detailed pictures of the crops below.",
            "Software then shows which plants are thirsty and which ones have enough moisture.",
            "Growers say they have cut their water use by almost a third since adopting the technology.",
            "The savings matter because the area has suffered from drought for several years.",
            "Agricultural experts say the drones also help spot pests and disease earlier than before.",
            "However, the equipment is expensive, and smaller farms often cannot afford it.",
            "Some growers have also raised concerns about privacy and about who owns the data the drones collect.",
            "The regional government is now offering grants to share the cost among groups of neighbours.",
            "Officials hope that within five years most farms in the valley will be using some form of smart irrigation.",
        ],
    ),
    (
        "Hospital trial shows promise for new heart treatment",
        [
            "Doctors say a new treatment for heart failure has shown promising results in a hospital trial.",
            "The therapy uses a small device that is placed inside the chest during a short operation.",
            "Patients who received it were able to walk further and reported fewer symptoms after six months.",
            "The trial included about four hundred people at twenty hospitals in three countries.",
            "Researchers cautioned that larger studies are needed before the treatment can be widely used.",
            "Side effects were generally mild, although a few patients needed a second procedure.",
            "Heart failure affects millions of people and often leaves them tired and short of breath.",
            "Many patients today rely on a mix of medicines that must be adjusted carefully over time.",
            "Charities welcomed the findings and said new options are badly needed.",
            "The company behind the device hopes to seek approval from regulators within the next two years, if further tests go well.",
        ],
    ),
]


def heard_reference(path: Path) -> list[HeardWord]:
    """Whisper tiny.en word timestamps with beam search 5 (the voice's own align step decodes greedily)."""
    model = load_model(resolve_model(None))
    segments, _ = model.transcribe(str(path), language="en", word_timestamps=True, beam_size=5, vad_filter=False)
    return [HeardWord(w.word, float(w.start), float(w.end)) for seg in segments for w in seg.words or []]


def exact_reference(
    sentences: list[str], heard: list[HeardWord], duration: float, audio: Path | None = None
) -> list[float | None]:
    """Per script word: the reference start where that word was heard as written, else None. With `audio`, word
    boundaries next to a pause are first moved onto the pause (pipeline.align.snap_to_pauses: Whisper's raw
    timestamps put a word after a silence up to half a second late)."""
    al = align_words(sentences, heard, duration)
    timed = al.words
    if audio is not None:
        samples = read_wav_mono(audio)
        if samples is not None:
            timed = snap_to_pauses(timed, pauses(*samples))
    words = [w for s in sentences for w in split_words(s)]
    plain = {i: "".join(ch for ch in w.lower() if ch.isalnum()) for i, w in enumerate(words)}
    heard_plain = {"".join(ch for ch in h.text.lower() if ch.isalnum()) for h in heard}
    return [w.start if ok and plain[i] in heard_plain else None for i, (w, ok) in enumerate(zip(timed, al.matched))]


def errors(words, reference: list[float | None]) -> list[float]:
    return [abs(w.start - r) for w, r in zip(words, reference) if r is not None]


def cue_errors(captions, words, reference: list[float | None]) -> list[float]:
    out, k = [], 0
    for cue in captions.cues:
        n = len(cue.text.split())
        if reference[k] is not None:
            out.append(abs(cue.start - reference[k]))
        k += n
    return out


def make_voice(name: str):
    """The provider a run would use for voice `name` (`auto` resolved through its delegate, as the runner does)."""
    from pipeline.plugins import provider_class

    cls = provider_class("voice", name)
    params: dict = {}
    if cls.delegates:
        name, params, _ = cls.delegate(params)
        cls = provider_class("voice", name)
    return cls({**params, "target_seconds": TARGET})


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.3f}" if values else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--voices", default="espeak,piper")
    ap.add_argument("--scripts", type=int, default=len(SCRIPTS))
    ap.add_argument("--out", type=Path, default=None, help="keep the narrations here")
    args = ap.parse_args()
    out_root = args.out or Path(tempfile.mkdtemp(prefix="newsreel-voice-bench-"))
    rows, summary, ok = [], {}, True
    for voice in args.voices.split(","):
        all_word, all_cue, lengths, paces, seconds, cpus, loads = [], [], [], [], [], [], []
        all_raw_word, all_raw_cue, missed, spoken = [], [], 0, 0
        label = voice
        for n, (headline, sentences) in enumerate(SCRIPTS[: args.scripts], 1):
            provider = make_voice(voice)
            label = voice if voice == provider.name else f"{voice} ({provider.name})"
            script = Script(headline=headline, title=headline, sentences=sentences, image_prompt=headline)
            work = out_root / voice / f"{n:02d}"
            work.mkdir(parents=True, exist_ok=True)
            t0, c0 = time.perf_counter(), cpu_seconds()
            narration = provider.run(script=script, workdir=work, progress=lambda f, m: None)
            seconds.append(time.perf_counter() - t0)
            cpus.append(cpu_seconds() - c0)
            loads.append(os.getloadavg()[0])
            captions = SubtitleCaptions().run(script=script, voice=narration, workdir=work, progress=lambda f, m: None)
            heard = heard_reference(narration.path)
            raw = exact_reference(sentences, heard, narration.duration)
            ref = exact_reference(sentences, heard, narration.duration, narration.path)
            missed += sum(1 for r in ref if r is None)
            spoken += len(ref)
            word_err = errors(narration.words, ref)
            cue_err = cue_errors(captions, narration.words, ref)
            raw_word_err = errors(narration.words, raw)
            raw_cue_err = cue_errors(captions, narration.words, raw)
            all_word += word_err
            all_cue += cue_err
            all_raw_word += raw_word_err
            all_raw_cue += raw_cue_err
            dev = narration.duration / TARGET - 1
            lengths.append(dev)
            if provider.name == "piper":
                first = narration.notes.get("first_pass_seconds", narration.duration)
                paces.append(script.word_count / first * narration.notes.get("first_length_scale", provider.params.length_scale))
            else:
                paces.append(script.word_count / narration.duration * 150 / int(narration.voice.rsplit("@", 1)[1].rstrip("wpm")))
            rows.append(
                f"| {label} | {n} | {script.word_count} | {narration.duration:.1f} | {dev:+.1%} | "
                f"{narration.voice.split()[-1]} | {narration.notes.get('passes', '-')} "
                f"({narration.notes.get('first_pass_seconds', narration.duration):.1f} s) | "
                f"{sum(1 for r in ref if r is None) / len(ref):.1%} | {fmt(word_err)} ({len(word_err)}) | "
                f"{fmt(cue_err)} ({len(cue_err)}) | {fmt(raw_word_err)} / {fmt(raw_cue_err)} | "
                f"{captions.notes['max_cps_seen']:.1f} | {seconds[-1]:.1f} | {cpus[-1]:.1f} | {loads[-1]:.1f} |"
            )
            print(rows[-1], flush=True)
        within = all(abs(d) <= 0.05 for d in lengths)
        med_word = statistics.median(all_word) if all_word else float("nan")
        med_cue = statistics.median(all_cue) if all_cue else float("nan")
        share = missed / spoken if spoken else 1.0
        ok &= within and share <= 0.10 and med_word <= 0.15 and med_cue <= 0.15
        summary[label] = (within, min(lengths), max(lengths), share, med_word, med_cue, statistics.mean(paces),
                          statistics.mean(seconds), statistics.mean(cpus), statistics.mean(loads),
                          statistics.median(all_raw_word), statistics.median(all_raw_cue))
    print()
    print("| voice | script | words | seconds | vs 60 s | rate | passes (first pass) | words missed | word start err, median s (n) | "
          "cue start err (n) | raw whisper: word / cue | max cps | stage s | CPU s | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("| voice | all within 60 s +-5 % | length range | words missed | median word start err | median cue start err | "
          "raw whisper: word / cue | pace | mean stage s | mean CPU s | mean load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, (within, lo, hi, share, mw, mc, pace, secs, cpu, load, rw, rc) in summary.items():
        pace_txt = f"{pace:.2f} words/s at {'length_scale 1.0' if 'piper' in label else '150 wpm'}"
        print(f"| {label} | {'yes' if within else 'NO'} | {lo:+.1%} .. {hi:+.1%} | {share:.1%} | {mw:.3f} s | {mc:.3f} s | "
              f"{rw:.3f} / {rc:.3f} s | {pace_txt} | {secs:.1f} | {cpu:.1f} | {load:.1f} |")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
