/*
 * study_mpi.c — the MPI runner of a study (built with -DMOELAB_MPI=ON).
 *
 * Rank 0 coordinates: it checks and prepares the results directory exactly
 * as moelab_study_run does (manifest, resume, shard), computes the reference
 * measures of the curves it needs into out_dir/references/, then hands out
 * task indices, largest cost first, to whichever worker thread asks, and
 * appends each row it receives to results.csv (flushed row by row) and its
 * time to timings.csv.  Ranks 1.. are workers: they set up the same curves
 * (reading the references rank 0 wrote; they never write one) and run
 * opt->threads tasks at once (default 1), each thread asking for its next
 * task with the row of its last.  Workers compute their rows with the
 * same random keys as a single process, so the results equal a single run's
 * after sorting.
 *
 * Messages: a worker thread sends TAG_REQUEST = {int64 task or -1, double
 * seconds, the row with its NUL}; the coordinator answers TAG_TASK = int64
 * next task index into the study's task list, or -1 (no more work: the
 * thread ends).  The coordinator ends when every worker thread has had its
 * -1, so every row sent has been written.  Waiting ranks poll with short
 * sleeps instead of spinning, so they leave the cores to the ones working.
 */
#include "study_internal.h"

#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_REQUEST = 7301, TAG_TASK = 7302 };
#define MSG_HEAD 16
#define MSG_MAX (MSG_HEAD + STUDY_ROW_MAX)

static double mpi_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sleeps a little longer each time nothing happened (20 µs doubling to 2 ms); *ns = 0 resets. */
static void backoff(long *ns) {
  *ns = *ns ? (*ns < 1000000 ? 2 * *ns : 2000000) : 20000;
  struct timespec ts = {0, *ns};
  nanosleep(&ts, NULL);
}

/* Completes a non-blocking request without spinning. */
static void wait_quietly(MPI_Request *req) {
  long ns = 0;
  for (;;) {
    int done = 0;
    MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    backoff(&ns);
  }
}

/*
 * Every rank's status: MOELAB_OK when all succeeded; otherwise the error of
 * the lowest failing rank, copied into every rank's *err.
 */
static int agree(MPI_Comm comm, int st, moelab_error *err) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  int key = st ? rank : INT_MAX, first = INT_MAX;
  MPI_Request req;
  MPI_Iallreduce(&key, &first, 1, MPI_INT, MPI_MIN, comm, &req);
  wait_quietly(&req);
  if (first == INT_MAX) return MOELAB_OK;
  moelab_error e = *err;
  MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, first, comm);
  if (rank != first) {
    *err = e;
    if (first != 0) {
      char msg[MOELAB_ERRMSG_MAX];
      snprintf(msg, sizeof msg, "%s", e.message);
      snprintf(err->message, sizeof err->message, "rank %d: %.480s", first, msg);
    }
  }
  return err->status ? err->status : MOELAB_EIO;
}

static void put_head(char *msg, int64_t task, double secs) {
  memcpy(msg, &task, sizeof task);
  memcpy(msg + 8, &secs, sizeof secs);
}

/* The coordinator's part: hand out todo[0..ntodo-1], write the rows. */
static int coordinate(const moelab_study_options *o, MPI_Comm comm, const study_task *tasks, size_t ntasks,
                      const study_task *const *todo, size_t ntodo, long workers, FILE *rf, FILE *tf,
                      moelab_study_progress *pg, const char *rpath, moelab_error *err) {
  char *msg = malloc(MSG_MAX);
  if (!msg) return ml_nomem(err);
  size_t next = 0;
  long stops = 0;
  int io_failed = 0, stopped = 0;
  double t0 = mpi_now(), last_sync = t0;
  long ns = 0;
  while (stops < workers) {
    int flag = 0;
    MPI_Status ms;
    MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, comm, &flag, &ms);
    if (!flag) {
      backoff(&ns);
      continue;
    }
    ns = 0;
    int src = ms.MPI_SOURCE, count = 0;
    MPI_Recv(msg, MSG_MAX, MPI_BYTE, src, TAG_REQUEST, comm, &ms);
    MPI_Get_count(&ms, MPI_BYTE, &count);
    int64_t done;
    double secs;
    memcpy(&done, msg, sizeof done);
    memcpy(&secs, msg + 8, sizeof secs);
    if (count >= MSG_HEAD + 1) msg[count - 1] = '\0';
    if (done >= 0 && (size_t)done < ntasks && count >= MSG_HEAD + 1) {
      const char *row = msg + MSG_HEAD;
      const study_task *t = &tasks[done];
      if (fputs(row, rf) == EOF || fflush(rf) != 0) io_failed = 1;
      fprintf(tf, "%s,%.3f\n", t->id, secs);
      fflush(tf);
      double now = mpi_now();
      if (now - last_sync > 10.0) {
        (void)fsync(fileno(rf));
        last_sync = now;
      }
      pg->done++;
      if (strstr(row, ",failed,")) pg->failed++;
      pg->cost_done += t->cost;
      pg->seconds = now - t0;
      if (o->progress) o->progress(o->progress_ctx, pg);
    }
    int64_t reply = -1;
    int stop_now = io_failed || (o->stop_flag && *o->stop_flag);
    if (!stop_now && next < ntodo) {
      reply = (int64_t)(todo[next++] - tasks);
    } else {
      stops++;
      if (next < ntodo) stopped = 1;
    }
    MPI_Send(&reply, 1, MPI_INT64_T, src, TAG_TASK, comm);
  }
  free(msg);
  if (fflush(rf) != 0 || fsync(fileno(rf)) != 0) io_failed = 1;
  if (io_failed) return ml_fail(err, MOELAB_EIO, rpath, 0, NULL, "write error: %s", strerror(errno));
  if (stopped) return ml_fail(err, MOELAB_EINTR, NULL, 0, NULL, "stopped after %zu of %zu tasks", pg->done, ntodo);
  return MOELAB_OK;
}

/* A worker's part: `threads` threads each ask for tasks until told to stop. */
static void work(const moelab_study *s, MPI_Comm comm, const study_task *tasks, size_t ntasks,
                 const study_curve *curves, int threads) {
#pragma omp parallel num_threads(threads)
  {
    char msg[MSG_MAX];
    int64_t last = -1;
    double secs = 0;
    msg[MSG_HEAD] = '\0';
    for (;;) {
      put_head(msg, last, secs);
      int len = MSG_HEAD + (int)strlen(msg + MSG_HEAD) + 1;
      int64_t reply = -1;
#pragma omp critical(moelab_mpi)
      {
        MPI_Send(msg, len, MPI_BYTE, 0, TAG_REQUEST, comm);
        MPI_Recv(&reply, 1, MPI_INT64_T, 0, TAG_TASK, comm, MPI_STATUS_IGNORE);
      }
      if (reply < 0 || (size_t)reply >= ntasks) break;
      const study_task *t = &tasks[reply];
      double ts = mpi_now();
      study_run_task(s, &curves[study_curve_index(t)], t, msg + MSG_HEAD);
      secs = mpi_now() - ts;
      last = reply;
    }
  }
}

int moelab_study_run_mpi(moelab_study *s, const moelab_study_options *o, MPI_Comm comm, moelab_study_progress *stats,
                         moelab_error *err) {
  moelab_error local;
  if (!err) err = &local;
  moelab_error_clear(err);
  if (!s || !o || !o->out_dir) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "MPI is not initialised (MPI_Init_thread first)");
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  if (size < 2) return moelab_study_run(s, o, stats, err);
  int st = MOELAB_OK;
  /* every rank must hold the same study */
  uint64_t hash = s->hash;
  MPI_Bcast(&hash, 1, MPI_UINT64_T, 0, comm);
  if (hash != s->hash)
    st = ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "the study differs from rank 0's (another file or quick setting)");
  if (o->shard_count > 1 && o->shard_index >= o->shard_count)
    st = ml_fail(err, MOELAB_EINVAL, NULL, 0, "shard", "shard %zu of %zu does not exist", o->shard_index, o->shard_count);
  if ((st = agree(comm, st, err))) return st;

  study_task *tasks = NULL;
  size_t ntasks = 0;
  unsigned char *done = NULL, *mine = NULL;
  const study_task **todo = NULL;
  study_curve curves[4];
  memset(curves, 0, sizeof curves);
  FILE *rf = NULL, *tf = NULL;
  char rpath[4200], tpath[4200];
  snprintf(rpath, sizeof rpath, "%s/results.csv", o->out_dir);
  snprintf(tpath, sizeof tpath, "%s/timings.csv", o->out_dir);
  size_t ntodo = 0;
  moelab_study_progress pg;
  memset(&pg, 0, sizeof pg);
  int need[4] = {0, 0, 0, 0};
  if (study_tasks(s, &tasks, &ntasks)) st = ml_nomem(err);

  /* rank 0: the results directory, what is left to do, the references */
  if (rank == 0 && !st) {
    int exists = 0;
    char header[STUDY_ROW_MAX];
    study_results_header(s, header);
    done = ml_zalloc(ntasks, 1);
    mine = ml_alloc(ntasks, 1);
    todo = ml_alloc(ntasks, sizeof *todo);
    size_t ndone = 0;
    if (!done || !mine || !todo)
      st = ml_nomem(err);
    else if (!(st = study_mkdir_p(o->out_dir, err)) && !(st = study_check_manifest(s, o->out_dir, o, &exists, err))) {
      if (!o->resume && access(rpath, F_OK) == 0)
        st = ml_fail(err, MOELAB_EINVAL, rpath, 0, NULL,
                     "results already exist: resume them (--resume) or choose another output directory");
    }
    if (!st) {
      if (o->shard_count > 1)
        study_shard_mask(tasks, ntasks, o->shard_index, o->shard_count, mine);
      else
        memset(mine, 1, ntasks);
      if (o->resume) st = study_read_done(rpath, header, tasks, ntasks, done, &ndone, err);
    }
    if (!st) st = study_write_manifest(s, o->out_dir, ntasks, o, err);
    if (!st) {
      for (size_t i = 0; i < ntasks; i++) {
        if (!mine[i]) continue;
        if (done[i]) {
          pg.skipped++;
          continue;
        }
        todo[ntodo++] = &tasks[i];
        pg.cost_todo += tasks[i].cost;
        need[study_curve_index(&tasks[i])] = 1;
      }
      qsort(todo, ntodo, sizeof *todo, study_cmp_cost_desc);
      pg.todo = ntodo;
      int threads = o->threads > 0 ? o->threads : omp_get_max_threads();
      for (int ci = 0; ci < 4 && !st; ci++) {
        if (!need[ci]) continue;
        int proto = ci < 2 ? PROTO_MATCHED : PROTO_SAME;
        moelab_gate gate = ci % 2 ? MOELAB_GATE_SOFTMAX : MOELAB_GATE_SIGMOID;
        st = study_curve_setup(s, proto, gate, o->out_dir, threads, &curves[ci], err);
      }
    }
    if (!st) {
      int fresh = access(rpath, F_OK) != 0;
      rf = fopen(rpath, "a");
      tf = fopen(tpath, "a");
      if (!rf || !tf)
        st = ml_fail(err, MOELAB_EIO, rf ? tpath : rpath, 0, NULL, "cannot open for appending: %s", strerror(errno));
      else if (fresh || ftell(rf) == 0) {
        fputs(header, rf);
        fflush(rf);
      }
    }
  }
  if ((st = agree(comm, st, err))) goto out;

  /* workers: the same curves, their references read from out_dir/references/ */
  MPI_Bcast(need, 4, MPI_INT, 0, comm);
  int threads = 0;
  if (rank > 0) {
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    threads = o->threads > 0 ? o->threads : 1;
    if (level < MPI_THREAD_SERIALIZED) threads = 1; /* only one thread may call MPI */
    for (size_t i = 0; i < ntasks && !st; i++) {
      int ci = study_curve_index(&tasks[i]);
      if (!need[ci] || curves[ci].data) continue;
      st = study_curve_setup(s, tasks[i].protocol, tasks[i].gate, o->out_dir, threads, &curves[ci], err);
    }
  }
  if ((st = agree(comm, st, err))) goto out;
  long mine_threads = threads, workers = 0;
  MPI_Allreduce(&mine_threads, &workers, 1, MPI_LONG, MPI_SUM, comm);

  if (rank == 0)
    st = coordinate(o, comm, tasks, ntasks, todo, ntodo, workers, rf, tf, &pg, rpath, err);
  else
    work(s, comm, tasks, ntasks, curves, threads);
  st = agree(comm, st, err);
  MPI_Bcast(&pg, (int)sizeof pg, MPI_BYTE, 0, comm);
  if (stats) *stats = pg;
out:
  if (rf) fclose(rf);
  if (tf) fclose(tf);
  for (int i = 0; i < 4; i++) study_curve_free(&curves[i]);
  free(tasks);
  free(done);
  free(mine);
  free(todo);
  return st;
}
