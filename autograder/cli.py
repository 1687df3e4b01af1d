"""Command line: a thin layer over the step modules.

    python3 -m autograder demo                 build, release, grade the sample class, print the grades
    python3 -m autograder test [pytest args]   run the project's tests
    python3 -m autograder setup                only create .venv and install the pinned requirements
    python3 -m autograder lab [JUPYTER ARGS]   open the student notebooks (lessons/) in JupyterLab (as root: a warning)
    python3 -m autograder build                write the nbgrader course directory under build/
    python3 -m autograder release [--check]    release the lessons to lessons/ and lessons/vi/ (or only check them)
                         [--edition en|vi|both]
    python3 -m autograder export [--check]     regenerate autograder/references/ from solutions/
    python3 -m autograder grade FOLDER         grade a folder of submissions, write reports under build/grades/
                         [--db-url postgresql://...]   (the gradebook in PostgreSQL instead of SQLite)
                         [--cluster tcp://HOST:8786]   (grade on a Dask cluster's workers)
    python3 -m autograder export-grades        the gradebook as canvas.csv and moodle.csv (one column per lesson) in build/grades/
                         [--format canvas|moodle|both] [--missing blank|zero]
    python3 -m autograder hub [--roster CSV]   a class on JupyterHub (as root): login, assignment list, formgrader
                         [grade LESSON | remove-users]   collect + grade + release feedback; delete the hub's users
    python3 -m autograder student-edition      lessons (en + vi) and the `course` wheel, no solutions, into build/student-edition/
                         [--lessons ID ...] [--out DIR]
    python3 -m autograder slides [--quick]     lecture decks (HTML + PDF) and the site, both languages, into build/
    python3 -m autograder translate            build the Vietnamese edition lessons/vi/ from solutions/vi/ catalogues
                         [--status | --check | --update | --show LESSON | --notebook PATH --to en|vi]
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

from autograder.lessons import ROOT


def cmd_demo(args):
    from autograder.demo import run_demo

    run_demo(show_progress=not args.quiet)
    return 0


def cmd_test(args):
    return subprocess.call([sys.executable, "-m", "pytest", *args.pytest_args], cwd=ROOT)


def cmd_setup(args):
    print(f"Ready: {sys.executable}")
    return 0


def lab_command(lessons=None, euid=None, extra=()):
    """The JupyterLab command line for `lab`: as root (containers, many cloud machines) it starts anyway,
    with --allow-root and a warning, instead of stopping at "Running as root is not recommended"."""
    command = [sys.executable, "-m", "jupyter", "lab", str(lessons or ROOT / "lessons"), *extra]
    euid = os.geteuid() if euid is None and hasattr(os, "geteuid") else euid
    if euid == 0:
        print("warning: running as root; starting JupyterLab with --allow-root. Your notebooks' code runs with "
              "every right on this machine: use an ordinary user where you can.", file=sys.stderr)
        command.append("--allow-root")
    return command


def cmd_lab(args):
    return subprocess.call(lab_command(extra=args.jupyter_args))


def cmd_build(args):
    from autograder.course_dir import build

    print(f"Course directory: {build()}")
    return 0


def cmd_release(args):
    from autograder.release import out_of_date, release

    if args.check:
        problems = out_of_date()
        print("\n".join(problems) if problems else "lessons/ is up to date with solutions/")
        return 1 if problems else 0
    for path in release(edition=args.edition):
        print(f"released {path.relative_to(ROOT)}")
    from autograder.release import giveaway_report

    lines, failures = giveaway_report()
    print("\n".join(lines))
    return 1 if failures else 0


def cmd_export(args):
    from autograder.export import export_all, stale_references

    if args.check:
        stale = stale_references()
        print(f"stale reference modules: {', '.join(stale)}" if stale else "autograder/references/ is up to date")
        return 1 if stale else 0
    for path in export_all():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


def cmd_grade(args):
    from autograder.grade import GradingInterrupted, grade_batch
    from autograder.report import interrupted_summary, summary_table, write_reports

    try:
        run = grade_batch(args.folder, lessons=args.lessons, show_progress=not args.quiet, workers=args.workers,
                          sandbox_mode=args.sandbox, db_url=args.db_url, cluster=args.cluster)
    except GradingInterrupted as stop:   # Ctrl-C: workers, kernels and the preloader are already gone
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)   # the reports of what was saved take a moment
        out = write_reports(stop.run, args.out)
        where = stop.run.db_url[len("sqlite:///"):] if stop.run.db_url.startswith("sqlite:///") else None
        print(f"\n{interrupted_summary(stop.run, where)}"
              f"\nReports of the saved notebooks: {out}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nInterrupted before any notebook was graded: nothing was saved, the gradebook is unchanged.",
              file=sys.stderr)
        return 130
    out = write_reports(run, args.out)
    print(summary_table(run))
    print(f"\nReports: {out}")
    return 0


def cmd_export_grades(args):
    from autograder.course_dir import course_root
    from autograder.exports import export_gradebook

    layouts = ["canvas", "moodle"] if args.format == "both" else [args.format]
    root = args.course or course_root()
    for path in export_gradebook(root, args.out or Path(root).parent / "grades", layouts, args.db_url, args.missing):
        print(f"wrote {path}")
    return 0


def cmd_hub(args):
    from autograder.hub import main

    return main(args)


def cmd_student_edition(args):
    from autograder.student_edition import EDITION, build_edition

    edition = build_edition(args.out or EDITION, lessons=args.lessons)
    print(f"Student edition: {edition.folder}  ({len(edition.lessons)} lessons, both languages; {edition.wheel.name})")
    if edition.archive:
        print(f"To hand out:     {edition.archive}")
    given = sorted({(place.split(' cell ')[0], what) for place, what in edition.given})
    if given:
        print("\nThese lessons hand out an earlier lesson's solution on purpose; include them only after that "
              "lesson's deadline (--lessons):")
        print("\n".join(f"  {place}: {what}" for place, what in given))
    return 0


def cmd_slides(args):
    from autograder.slides import SlidesError, build_all

    languages = ["vi", "en"] if args.language == "both" else [args.language]
    for language in languages:   # Vietnamese first, so that the English index can link to it
        try:
            decks, index = build_all(args.lessons, full=not args.quick, pdf=not args.no_pdf, site=not args.no_site,
                                     language=language, link_other=True if args.language == "both" else None)
        except SlidesError as error:
            print(f"slides ({language}): {error}", file=sys.stderr)
            return 1
        print(f"\nSlides ({language}): {decks[0].html.parent if decks else '-'}" + (f"\nSite:   {index}" if index else ""))
    return 0


def cmd_translate(args):
    from autograder import translate as tr

    lessons = args.lessons or tr.lesson_ids()
    if args.notebook:
        print(f"wrote {tr.switch_language(args.notebook, args.to, args.out)}")
        return 0
    if args.show:
        print(tr.english_catalogue(args.show), end="")
        return 0
    if args.update:
        for lesson_id in lessons:
            print(f"updated {tr.update_catalogue(lesson_id, args.language).relative_to(ROOT)}")
        return 0
    if args.status or args.check:
        problems = [p for lesson_id in lessons for p in tr.status(lesson_id, args.language)]
        if args.check:
            from autograder.release import out_of_date

            problems += [p for p in out_of_date() if f"/{args.language}/" in p or p.startswith("Run")]
        print("\n".join(problems) if problems else f"{args.language}: every lesson translated and current")
        return 1 if problems else 0
    for path in tr.translate_lessons(args.language, lessons, strict=False):
        print(f"wrote {path.relative_to(ROOT)}")
    untranslated = [p for lesson_id in lessons for p in tr.status(lesson_id, args.language)]
    if untranslated:
        print(f"\n{len(untranslated)} cell(s) kept their English text or need a look:")
        print("\n".join(f"  {p}" for p in untranslated))
    return 0


def parser():
    p = argparse.ArgumentParser(prog="python3 -m autograder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="build, release and grade a sample class")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=cmd_demo)
    test = sub.add_parser("test", help="run the tests (arguments go to pytest)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(run=cmd_test)
    sub.add_parser("setup", help="create .venv and install the requirements").set_defaults(run=cmd_setup)
    lab = sub.add_parser("lab", help="open lessons/ in JupyterLab (as root too, with a warning)")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="passed to jupyter lab (e.g. --port 8890)")
    lab.set_defaults(run=cmd_lab)
    sub.add_parser("build", help="write the nbgrader course directory").set_defaults(run=cmd_build)
    release = sub.add_parser("release", help="release the lessons to lessons/")
    release.add_argument("--check", action="store_true", help="only report whether lessons/ is current")
    release.add_argument("--edition", choices=["en", "vi", "both"], default="en",
                         help="language of the notebooks in the course's release/ folder (lessons/ always gets "
                              "English, lessons/vi/ Vietnamese)")
    release.set_defaults(run=cmd_release)
    export = sub.add_parser("export", help="regenerate the reference modules")
    export.add_argument("--check", action="store_true", help="only report stale modules")
    export.set_defaults(run=cmd_export)
    grade = sub.add_parser("grade", help="grade a folder of submissions")
    grade.add_argument("folder", help="<student>/<lesson>.ipynb or <student>__<lesson>.ipynb files")
    grade.add_argument("--lessons", nargs="*", help="limit to these lesson ids")
    grade.add_argument("--out", help="report folder (default build/grades)")
    grade.add_argument("--quiet", action="store_true", help="no progress bar")
    grade.add_argument("--workers", type=int, help="grading processes (default: one per core)")
    grade.add_argument("--sandbox", choices=["auto", "require", "off"], default="auto",
                       help="bubblewrap sandbox: auto (warn loudly without it), require (refuse without it), off")
    grade.add_argument("--db-url", metavar="URL",
                       help="gradebook database, e.g. postgresql://user:password@host:5432/db (default: SQLite "
                            "build/course/gradebook.db; the course directory remembers the last URL given)")
    grade.add_argument("--cluster", metavar="tcp://HOST:8786",
                       help="grade on the workers of this Dask scheduler (autograder/cluster.py; GRADING.md) "
                            "instead of local processes")
    grade.set_defaults(run=cmd_grade)
    grades = sub.add_parser("export-grades", help="the gradebook as CSV for Canvas and Moodle (one column per lesson)")
    grades.add_argument("--format", choices=["canvas", "moodle", "both"], default="both")
    grades.add_argument("--out", help="folder (default build/grades)")
    grades.add_argument("--course", help="course directory (default build/course; the hub's: see `hub --help`)")
    grades.add_argument("--db-url", metavar="URL", help="gradebook database (default: the course directory's)")
    grades.add_argument("--missing", choices=["blank", "zero"], default="blank",
                        help="a lesson not handed in: blank (the LMS keeps what it has) or 0")
    grades.set_defaults(run=cmd_export_grades)
    from autograder.hub import add_arguments as hub_arguments   # standard library only at import

    hub = sub.add_parser("hub", help="a class on JupyterHub: students from a roster, nbgrader's exchange, this grader")
    hub_arguments(hub)
    hub.set_defaults(run=cmd_hub)
    edition = sub.add_parser("student-edition", help="what students receive: lessons (en + vi) and the course wheel")
    edition.add_argument("--lessons", nargs="*", help="only these lesson ids (the ones released so far)")
    edition.add_argument("--out", help="folder (default build/student-edition; a .zip is written beside it)")
    edition.set_defaults(run=cmd_student_edition)
    slides = sub.add_parser("slides", help="build the lecture slides (HTML, PDF) and the course site")
    slides.add_argument("--lessons", nargs="*", help="limit to these lesson ids")
    slides.add_argument("--quick", action="store_true",
                        help="figures from grading-mode runs (seconds; short experiments) instead of full runs (minutes)")
    slides.add_argument("--no-pdf", action="store_true", help="HTML decks only (no Chromium needed)")
    slides.add_argument("--no-site", action="store_true", help="decks only")
    slides.add_argument("--language", choices=["en", "vi", "both"], default="both",
                        help="which edition (default both: English into slides/ and site/, Vietnamese into "
                             "slides/vi/ and site/vi/, each site linking the other)")
    slides.set_defaults(run=cmd_slides)
    translate = sub.add_parser("translate", help="build the translated student notebooks (lessons/vi/)")
    translate.add_argument("--language", default="vi", choices=["vi"])
    translate.add_argument("--lessons", nargs="*", help="limit to these lesson ids")
    mode = translate.add_mutually_exclusive_group()
    mode.add_argument("--status", action="store_true", help="list missing, stale and unmatched translations")
    mode.add_argument("--check", action="store_true", help="--status, and whether lessons/vi/ is current")
    mode.add_argument("--update", action="store_true",
                      help="add TODO entries for new cells and drop removed ones in the catalogues")
    mode.add_argument("--show", metavar="LESSON", help="print a lesson's English text in catalogue form")
    mode.add_argument("--notebook", metavar="PATH",
                      help="switch your own notebook to the other edition, keeping your code (see --to, --out)")
    translate.add_argument("--to", choices=["en", "vi"], default="vi", help="with --notebook: the language")
    translate.add_argument("--out", help="with --notebook: where to write (default <lesson>.<language>.ipynb)")
    translate.set_defaults(run=cmd_translate)
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["test"] and "-h" not in argv[1:2] and "--help" not in argv[1:2]:
        # everything after `test` is pytest's, options first or not (`test -q --durations=20`)
        return cmd_test(argparse.Namespace(pytest_args=argv[1:]))
    args, unknown = parser().parse_known_args(argv)
    if args.command in ("grade", "demo"):
        from autograder.course_dir import skip_iri_format_checker

        skip_iri_format_checker()   # before the command imports nbformat (the parser imports none)
    if unknown and args.command != "lab":   # `lab --port 8890`: options for JupyterLab pass through
        parser().error(f"unrecognized arguments: {' '.join(unknown)}")
    if unknown:
        args.jupyter_args = [*args.jupyter_args, *unknown]
    return args.run(args)
