/*
 * study_util.c — running studies from the command line: preset lookup,
 * progress with ETA, gnuplot.
 */
#include "study_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MOELAB_STUDIES_DIR
#define MOELAB_STUDIES_DIR "studies"
#endif
#ifndef MOELAB_STUDIES_INSTALL_DIR
#define MOELAB_STUDIES_INSTALL_DIR "/usr/local/share/moelab/studies"
#endif
#ifndef MOELAB_BUILD_DIR
#define MOELAB_BUILD_DIR ""
#endif

static int is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The directory of the running executable (resolved), or "" when unknown. */
static void exe_dir(char *buf, size_t size) {
  char link[4096];
  ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
  buf[0] = '\0';
  if (n <= 0) return;
  link[n] = '\0';
  char *slash = strrchr(link, '/');
  if (!slash) return;
  *slash = '\0';
  snprintf(buf, size, "%s", link);
}

/*
 * $MOELAB_STUDIES; else, for the executable of the build tree, the source
 * tree's studies/; else the installed directory (the compiled-in one, then
 * ../share/moelab/studies beside the executable, for an installation moved
 * or made with `cmake --install --prefix`); else the source tree's.
 */
const char *cli_studies_dir(void) {
  static char found[4200];
  const char *e = getenv("MOELAB_STUDIES");
  if (e && *e) return e;
  char dir[4096];
  exe_dir(dir, sizeof dir);
  struct stat sb, se;
  int in_build = MOELAB_BUILD_DIR[0] && dir[0] && stat(MOELAB_BUILD_DIR, &sb) == 0 && stat(dir, &se) == 0 &&
                 sb.st_dev == se.st_dev && sb.st_ino == se.st_ino;
  if (in_build && is_dir(MOELAB_STUDIES_DIR)) return MOELAB_STUDIES_DIR;
  if (is_dir(MOELAB_STUDIES_INSTALL_DIR)) return MOELAB_STUDIES_INSTALL_DIR;
  if (dir[0]) {
    snprintf(found, sizeof found, "%s/../share/moelab/studies", dir);
    if (is_dir(found)) return found;
  }
  if (is_dir(MOELAB_STUDIES_DIR)) return MOELAB_STUDIES_DIR;
  return MOELAB_STUDIES_INSTALL_DIR;
}

int cli_resolve_study(const char *cmd, const char *arg, char *buf, size_t size) {
  struct stat sb;
  if (stat(arg, &sb) == 0 && S_ISREG(sb.st_mode)) {
    snprintf(buf, size, "%s", arg);
    return 0;
  }
  if (!strchr(arg, '/')) {
    snprintf(buf, size, "%s/%s.json", cli_studies_dir(), arg);
    if (stat(buf, &sb) == 0 && S_ISREG(sb.st_mode)) return 0;
  }
  cli_msg(cmd, "%s: no such study file or preset (presets are in %s)", arg, cli_studies_dir());
  return EXIT_USAGE;
}

static void fmt_time(double s, char *b, size_t n) {
  if (!(s >= 0) || s > 1e7) {
    snprintf(b, n, "?");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(b, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    snprintf(b, n, "%ldm%02lds", t / 60, t % 60);
}

void cli_study_progress(void *ctx, const moelab_study_progress *p) {
  const char *label = ctx;
  if (!cli_stderr_is_tty()) return;
  double frac = p->cost_todo > 0 ? p->cost_done / p->cost_todo : 1.0;
  char el[32], eta[32], bar[31];
  fmt_time(p->seconds, el, sizeof el);
  fmt_time(frac > 0.005 ? p->seconds * (1 - frac) / frac : -1, eta, sizeof eta);
  int w = (int)(frac * 30);
  for (int i = 0; i < 30; i++) bar[i] = i < w ? '#' : '.';
  bar[30] = '\0';
  fprintf(stderr, "\r%s [%s] %zu/%zu fits%s%zu failed, %s elapsed, ETA %s   ", label ? label : "", bar, p->done,
          p->todo, p->skipped ? " (resumed), " : ", ", p->failed, el, eta);
  if (p->done == p->todo) fputc('\n', stderr);
  fflush(stderr);
}

int cli_run_gnuplot(const char *dir) {
  if (system("command -v gnuplot >/dev/null 2>&1") != 0) return -1;
  DIR *d = opendir(dir);
  if (!d) return 0;
  int failed = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 4 || strcmp(e->d_name + n - 3, ".gp") != 0) continue;
    pid_t pid = fork();
    if (pid == 0) {
      if (chdir(dir) != 0) _exit(127);
      int devnull = open("/dev/null", 0);
      if (devnull >= 0) dup2(devnull, 2);
      execlp("gnuplot", "gnuplot", e->d_name, (char *)NULL);
      _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
  }
  closedir(d);
  return failed;
}

void cli_study_figures(const char *C, const char *out) {
  char fig[4200];
  snprintf(fig, sizeof fig, "%s/figures", out);
  int g = cli_run_gnuplot(fig);
  if (g < 0) cli_msg(C, "gnuplot is not installed: the figure scripts are in %s (run gnuplot NAME.gp there)", fig);
  else if (g > 0) cli_msg(C, "gnuplot failed on %d figure script%s in %s", g, g == 1 ? "" : "s", fig);
}

long cli_mpi_launch_size(void) {
  const char *v = getenv("OMPI_COMM_WORLD_SIZE");
  if (!v || !*v) v = getenv("PMI_SIZE");
  if (v && *v) {
    long n = strtol(v, NULL, 10);
    return n > 0 ? n : -1;
  }
  return getenv("PMIX_RANK") ? -1 : 0;
}

static int study_rank;

int cli_study_rank(void) { return study_rank; }

int cli_run_study(const char *C, const char *path, const char *out, int quick, int threads, int resume,
                  size_t shard_index, size_t shard_count, int figures) {
  moelab_error err;
  moelab_error_clear(&err);
  study_rank = 0;
#ifdef MOELAB_HAVE_MPI
  /* under an MPI launcher: rank 0 coordinates, the others run fits (moelab_study_run_mpi) */
  int mpi = 0, mpi_size = 1, inited = 0;
  MPI_Initialized(&inited);
  if (!inited && cli_mpi_launch_size() != 0) {
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
      cli_msg(C, "MPI_Init_thread failed");
      return EXIT_RUNTIME;
    }
    mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &study_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
  }
#endif
  moelab_study *s = NULL;
  int bad = moelab_study_read_file(path, quick, &s, &err) != MOELAB_OK;
#ifdef MOELAB_HAVE_MPI
  if (mpi) {
    /* every rank needs the study: if one cannot read it, none runs; rank 0 reports (workers exit 0) */
    int any = 0, all = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(&bad, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (any) {
      char msg[2048];
      moelab_error_format(&err, msg, sizeof msg);
      if (bad && study_rank != 0 && !all) cli_msg(C, "rank %d: %s", study_rank, msg);
      if (!bad && study_rank == 0) cli_msg(C, "another rank cannot read the study file %s (see its message)", path);
      int rc = study_rank != 0 ? EXIT_OK : bad ? cli_fail(C, &err, 1) : EXIT_USAGE;
      moelab_study_free(s);
      MPI_Finalize();
      return rc;
    }
  }
#endif
  if (bad) return cli_fail(C, &err, 1);
  moelab_study_options o;
  moelab_study_options_init(&o);
  o.out_dir = out;
  o.threads = threads;
  o.resume = resume;
  o.shard_index = shard_index;
  o.shard_count = shard_count;
  o.stop_flag = &cli_interrupted;
  o.progress = cli_study_progress;
  char label[128];
  snprintf(label, sizeof label, "%s", moelab_study_name(s));
  o.progress_ctx = label;
  moelab_study_progress pg;
  memset(&pg, 0, sizeof pg);
  int rc = EXIT_OK;
  int st;
#ifdef MOELAB_HAVE_MPI
  if (mpi && mpi_size > 1) {
    if (study_rank != 0) o.progress = NULL;
    st = moelab_study_run_mpi(s, &o, MPI_COMM_WORLD, &pg, &err);
  } else
#endif
    st = moelab_study_run(s, &o, &pg, &err);
#ifdef MOELAB_HAVE_MPI
  if (mpi) MPI_Finalize(); /* before the summary forks gnuplot */
#endif
  if (study_rank != 0) { /* rank 0 reports the status every rank agreed on; workers exit 0 so that mpirun does
                            not end rank 0 before it has */
    moelab_study_free(s);
    return EXIT_OK;
  }
  if (st == MOELAB_EINTR) {
    fprintf(stderr, "\n");
    cli_msg(C, "interrupted: %zu fits of this run are in %s/results.csv; resume with: moelab %s %s --out %s --resume%s",
            pg.done, out, C, path, out, quick ? " --quick" : "");
    moelab_study_free(s);
    return EXIT_SIGINT;
  }
  if (st) {
    rc = cli_fail(C, &err, 0);
    moelab_study_free(s);
    return rc;
  }
  if (shard_count <= 1) {
    if (moelab_study_summarise(s, out, &err))
      rc = cli_fail(C, &err, 0);
    else if (figures)
      cli_study_figures(C, out);
  }
  moelab_study_free(s);
  return rc;
}
