/*
 * rng.c — random streams keyed by (seed, stream).
 *
 * The generator is Random123's Philox4x64-10, a counter-based generator: the
 * i-th block of four 64-bit outputs of stream (seed, stream) is
 * philox4x64(counter = (i, 0, 0, 0), key = (seed, stream)).  It is wrapped as
 * a GSL generator type so that GSL's variates (Gaussian ziggurat, ...) draw
 * from it.  No state is shared between generators: a stream's numbers depend
 * only on its key, never on which thread or process draws them.
 */
#include "internal.h"

#include <Random123/philox.h>
#include <gsl/gsl_rng.h>
#include <stdlib.h>

typedef struct ml_philox_state {
  uint64_t key[2];
  uint64_t block;   /* index of the next block to generate */
  uint64_t out[4];  /* current block of outputs */
  unsigned used;    /* outputs of `out` already consumed (4 = none left) */
} ml_philox_state;

static void philox_refill(ml_philox_state *s) {
  philox4x64_ctr_t c = {{s->block, 0, 0, 0}};
  philox4x64_key_t k = {{s->key[0], s->key[1]}};
  philox4x64_ctr_t r = philox4x64(c, k);
  for (int i = 0; i < 4; i++) s->out[i] = r.v[i];
  s->block++;
  s->used = 0;
}

static uint64_t philox_next(ml_philox_state *s) {
  if (s->used >= 4) philox_refill(s);
  return s->out[s->used++];
}

static void philox_set(void *vstate, unsigned long seed) {
  ml_philox_state *s = vstate;
  s->key[0] = (uint64_t)seed;
  s->key[1] = 0;
  s->block = 0;
  s->used = 4;
}

/* 32 random bits (the high half of one 64-bit output). */
static unsigned long philox_get(void *vstate) { return (unsigned long)(philox_next(vstate) >> 32); }

/* A double in [0, 1) with 53 random bits. */
static double philox_get_double(void *vstate) {
  return (double)(philox_next(vstate) >> 11) * 0x1.0p-53;
}

static const gsl_rng_type ml_philox_type = {
    "moelab-philox4x64", 0xffffffffUL, 0UL, sizeof(ml_philox_state), philox_set, philox_get,
    philox_get_double};

gsl_rng *ml_rng_alloc(uint64_t seed, uint64_t stream) {
  gsl_rng *r = malloc(sizeof *r);
  if (!r) return NULL;
  r->state = malloc(sizeof(ml_philox_state));
  if (!r->state) {
    free(r);
    return NULL;
  }
  r->type = &ml_philox_type;
  ml_philox_state *s = r->state;
  s->key[0] = seed;
  s->key[1] = stream;
  s->block = 0;
  s->used = 4;
  return r;
}

int moelab_rng_new(uint64_t seed, uint64_t stream, void **rng, moelab_error *err) {
  if (!rng) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "rng output pointer is NULL");
  gsl_rng *r = ml_rng_alloc(seed, stream);
  if (!r) return ml_nomem(err);
  *rng = r;
  return MOELAB_OK;
}

void moelab_rng_free(void *rng) {
  gsl_rng *r = rng;
  if (!r) return;
  free(r->state);
  free(r);
}
