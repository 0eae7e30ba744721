/* Binary min-heap of intrusive timers keyed by (key_us, seq). */
#include <stdlib.h>
#include "common/assert.h"
#include "common/loop.h"
#include "fencelock/error.h"

void fl_timer_init(struct fl_timer *t, fl_timer_fn fn, void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->at_us = t->key_us = 0;
	t->seq = 0;
	t->loop = NULL;
	t->heap_index = UINT32_MAX;
}

static bool theap_less(const struct fl_timer *a, const struct fl_timer *b)
{
	return a->key_us < b->key_us || (a->key_us == b->key_us && a->seq < b->seq);
}

static void theap_set(struct fl_timer_heap *h, uint32_t i, struct fl_timer *t)
{
	h->items[i] = t;
	t->heap_index = i;
}

static void theap_up(struct fl_timer_heap *h, uint32_t i)
{
	struct fl_timer *t = h->items[i];
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!theap_less(t, h->items[p]))
			break;
		theap_set(h, i, h->items[p]);
		i = p;
	}
	theap_set(h, i, t);
}

static void theap_down(struct fl_timer_heap *h, uint32_t i)
{
	struct fl_timer *t = h->items[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= h->len)
			break;
		if (c + 1 < h->len && theap_less(h->items[c + 1], h->items[c]))
			c++;
		if (!theap_less(h->items[c], t))
			break;
		theap_set(h, i, h->items[c]);
		i = c;
	}
	theap_set(h, i, t);
}

int fl_theap_init(struct fl_timer_heap *h, uint32_t initial_cap)
{
	h->len = 0;
	h->next_seq = 0;
	h->cap = initial_cap ? initial_cap : 16;
	h->items = calloc(h->cap, sizeof(*h->items));
	return h->items ? 0 : -FL_ENOMEM;
}

void fl_theap_free(struct fl_timer_heap *h)
{
	for (uint32_t i = 0; i < h->len; i++)
		h->items[i]->heap_index = UINT32_MAX;
	free(h->items);
	h->items = NULL;
	h->len = h->cap = 0;
}

int fl_theap_push(struct fl_timer_heap *h, struct fl_timer *t)
{
	FL_ASSERT(t->heap_index == UINT32_MAX);
	if (h->len == h->cap) {
		uint32_t ncap = h->cap * 2;
		struct fl_timer **n = realloc(h->items, ncap * sizeof(*n));
		if (n == NULL)
			return -FL_ENOMEM;
		h->items = n;
		h->cap = ncap;
	}
	t->seq = h->next_seq++;
	h->items[h->len] = t;
	t->heap_index = h->len++;
	theap_up(h, t->heap_index);
	return 0;
}

void fl_theap_remove(struct fl_timer_heap *h, struct fl_timer *t)
{
	uint32_t i = t->heap_index;
	if (i == UINT32_MAX)
		return;
	FL_ASSERT(i < h->len);
	FL_ASSERT(h->items[i] == t);
	t->heap_index = UINT32_MAX;
	h->len--;
	if (i == h->len)
		return;
	theap_set(h, i, h->items[h->len]);
	theap_down(h, i);
	theap_up(h, h->items[i]->heap_index);
}

struct fl_timer *fl_theap_peek(const struct fl_timer_heap *h)
{
	return h->len ? h->items[0] : NULL;
}
