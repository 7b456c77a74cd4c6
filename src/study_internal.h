/*
 * study_internal.h — the study's private structures (study.c, summary.c, study_merge.c, study_mpi.c).
 */
#ifndef MOELAB_STUDY_INTERNAL_H
#define MOELAB_STUDY_INTERNAL_H

#include "internal.h"

#define STUDY_MAX_N 64
#define STUDY_MAX_LOSSES 8
#define STUDY_MAX_TASKS 1000000 /* fits in one study */

enum { PROTO_MATCHED = 1, PROTO_SAME = 2 };

typedef enum study_class { CLASS_STRONG = 0, CLASS_POLY = 1, CLASS_CONST = 2 } study_class;

struct moelab_study {
  char *name, *description;
  char *text; /* the file, for the hash */
  size_t text_len;
  int quick;
  uint64_t hash;
  moelab_model *truth; /* the data model of the same-data protocol; its atoms define every gate's truth */
  moelab_gate gates[2];
  size_t ngates;
  int protocols;
  int regime;
  study_class cls;
  size_t k;
  size_t ns[STUDY_MAX_N];
  size_t nn;
  size_t replicates;
  moelab_init init;
  double perturb, split_fraction;
  size_t split[MOELAB_MAX_K];
  size_t nsplit;
  size_t restarts, max_iter;
  double stat_tol;
  double kink_tol;
  moelab_box box;
  moelab_loss_spec losses[STUDY_MAX_LOSSES];
  size_t nlosses;
  moelab_ref_rule ref_rule;
  size_t ref_restarts;
  uint64_t seed;
};

/* A task: one fit. */
typedef struct study_task {
  int protocol;   /* PROTO_MATCHED or PROTO_SAME */
  moelab_gate gate;
  size_t ni, rep; /* index into ns, replicate */
  double cost;
  char id[64];
} study_task;

/* Builds the task list (caller frees).  Order: protocol, gate, n, replicate. */
int study_tasks(const moelab_study *s, study_task **tasks, size_t *ntasks);

/* The theoretical rate of a quantity for (gate, protocol) in this study:
 * "n^-1/2", "n^-1/4", "1/log n", or NULL when the table has none. */
const char *study_theory(const moelab_study *s, moelab_gate gate, int protocol, const char *quantity);
const char *study_class_name(study_class c);
const char *study_protocol_name(int protocol);

/* What every task of one (protocol, gate) needs. */
typedef struct study_curve {
  int protocol;
  moelab_gate gate;
  moelab_model *data;   /* the model the data come from */
  moelab_model *truth;  /* G* with this gate (NULL in same-data for the other gate) */
  moelab_model *start;  /* the fits' start */
  moelab_model *ref;    /* the reference of the losses: G* or Ḡ (borrowed from truth or owned gbar) */
  moelab_model *gbar;   /* owned when computed */
  int lbar_rate;        /* the expert rate is L̄ (Ḡ = G* plus switched-off atoms) */
  double gbar_distance, gbar_rel;
  size_t gbar_off;
} study_curve;

/* The curve of (protocol, gate): its data model, truth, start and reference (Ḡ computed or read from
 * out_dir/references/).  Errors: as moelab_reference, MOELAB_EIO. */
int study_curve_setup(const moelab_study *s, int protocol, moelab_gate gate, const char *out_dir, int threads,
                      study_curve *c, moelab_error *err);
void study_curve_free(study_curve *c);
/* Runs one task into row (ROW_MAX bytes, with its newline); a failed fit gives a row of NaN and the reason. */
#define STUDY_ROW_MAX 8192
void study_run_task(const moelab_study *s, const study_curve *c, const study_task *t, char *row);
/* The header line of results.csv (with its newline) into row (STUDY_ROW_MAX bytes). */
void study_results_header(const moelab_study *s, char *row);
/* The curve index of a task: 0 matched/sigmoid, 1 matched/softmax, 2 same-data/sigmoid, 3 same-data/softmax. */
static inline int study_curve_index(const study_task *t) {
  return (t->protocol == PROTO_SAME ? 2 : 0) + (t->gate == MOELAB_GATE_SOFTMAX);
}
int study_mkdir_p(const char *path, moelab_error *err);

/* Column name of loss i ("loss_D1", "loss_D2_1.5", ...). */
void study_loss_column(const moelab_loss_spec *spec, char *buf, size_t size);

/* ---- the runner's parts, shared by the distributed runners (study_mpi.c) and the merge (study_merge.c) ---- */

/* qsort comparator of `const study_task *`: decreasing cost, then task id (the order tasks are run in). */
int study_cmp_cost_desc(const void *a, const void *b);
/* The tasks of shard `shard` of `nshards` (cost-balanced; a function of the task list only): mine[i] = 0/1. */
void study_shard_mask(const study_task *tasks, size_t ntasks, size_t shard, size_t nshards, unsigned char *mine);
/* Marks done[i] for the tasks already in the results file `path` (after dropping a partial last row);
 * a missing file has none.  Errors: MOELAB_EIO, MOELAB_EINVAL (other columns than `header`). */
int study_read_done(const char *path, const char *header, const study_task *tasks, size_t ntasks,
                    unsigned char *done, size_t *ndone, moelab_error *err);
/* Writes out_dir/manifest.json (hash, quick, tasks, the shard of `o`) and out_dir/study.json. */
int study_write_manifest(const moelab_study *s, const char *out_dir, size_t ntasks, const moelab_study_options *o,
                         moelab_error *err);
/* An existing out_dir/manifest.json must carry this study's hash and the shard of `o` (*exists: 0/1). */
int study_check_manifest(const moelab_study *s, const char *out_dir, const moelab_study_options *o, int *exists,
                         moelab_error *err);

#endif
