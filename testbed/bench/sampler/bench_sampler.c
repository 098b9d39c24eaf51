// SPDX-License-Identifier: GPL-2.0
/*
 * bench_sampler: where the guest's CPUs spend a benchmark run, for
 * testbed/bench/run --profile (never shipped, never part of the tests).
 * The test-bed guest has no perf tool, and under TCG no PMU: a per-CPU
 * hrtimer takes the interrupted address and what was running (the idle
 * task, a softirq or a section with them off, a kernel thread such as the
 * engine's worker, a task in the kernel, a task in user mode) from load
 * until the report is first read.  The report, /sys/kernel/debug/bench_sampler/
 * report, is one line per context ("ctx CONTEXT SAMPLES"), one per module
 * and context with all its functions' samples ("mod CONTEXT SAMPLES
 * MODULE"), and one per function ("fn CONTEXT SAMPLES SYMBOL [MODULE]"):
 * every function of a module (the drivers compared: a driver's cost is
 * spread over many small functions), the kernel's own with at least
 * min_permille of the samples.
 *
 * A time spent with interrupts off is counted where they come back on
 * (_raw_spin_unlock_irqrestore, say); the hrtimer itself costs the guest
 * CPU time, so a profiled run is slower than a plain one.
 */
#include <linux/module.h>
#include <linux/hrtimer.h>
#include <linux/kallsyms.h>
#include <linux/vmalloc.h>
#include <linux/sort.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/sched.h>
#include <asm/irq_regs.h>

static unsigned int period_us = 250;
module_param(period_us, uint, 0444);
MODULE_PARM_DESC(period_us, "Sampling period per CPU (default 250 us: 4 kHz)");
static unsigned int max_samples = 1 << 20;
module_param(max_samples, uint, 0444);
MODULE_PARM_DESC(max_samples, "Samples kept at most (16 bytes each)");
static unsigned int min_permille = 2;
module_param(min_permille, uint, 0444);
MODULE_PARM_DESC(min_permille, "The kernel's own functions reported: this share of the samples at least");

enum ctx { C_IDLE, C_SOFTIRQ, C_KTHREAD, C_TASK, C_USER, C_NR };
static const char *const ctx_name[C_NR] = {
	"idle", "softirq", "kthread", "task", "user",
};

/* A sample: the interrupted address (0 in user mode) and its context. */
struct sample {
	unsigned long ip;
	unsigned long ctx;
};

static struct sample *samples;
static atomic_t taken = ATOMIC_INIT(0);
static atomic_t dropped = ATOMIC_INIT(0);
static bool stopped, reduced, reported;
static DEFINE_MUTEX(report_lock);
static DEFINE_PER_CPU(struct hrtimer, sampler);
static struct dentry *dir;

static enum ctx context_of(struct pt_regs *regs)
{
	if (user_mode(regs))
		return C_USER;
	if (is_idle_task(current))
		return C_IDLE;
	/* (A hard interrupt is never sampled: it runs with interrupts off.) */
	if (softirq_count())
		return C_SOFTIRQ;
	return current->flags & PF_KTHREAD ? C_KTHREAD : C_TASK;
}

static enum hrtimer_restart sample_now(struct hrtimer *t)
{
	struct pt_regs *regs = get_irq_regs();
	unsigned int i;

	if (regs) {
		i = atomic_inc_return(&taken) - 1;
		if (i < max_samples) {
			samples[i].ctx = context_of(regs);
			samples[i].ip = user_mode(regs) ? 0 : instruction_pointer(regs);
		} else {
			atomic_inc(&dropped);
		}
	}
	hrtimer_forward_now(t, us_to_ktime(period_us));
	return HRTIMER_RESTART;
}

static void start_on_this_cpu(void *unused)
{
	struct hrtimer *t = this_cpu_ptr(&sampler);

	hrtimer_setup(t, sample_now, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
	hrtimer_start(t, us_to_ktime(period_us), HRTIMER_MODE_REL_PINNED_HARD);
}

static void stop_sampling(void)
{
	int cpu;

	if (stopped)
		return;
	stopped = true;
	for_each_online_cpu(cpu)
		hrtimer_cancel(per_cpu_ptr(&sampler, cpu));
}

/* The start of the function holding @ip (the address itself if unknown). */
static unsigned long function_start(unsigned long ip)
{
	char buf[KSYM_SYMBOL_LEN], *plus, *slash;
	unsigned long off;

	sprint_symbol(buf, ip);
	plus = strchr(buf, '+');
	slash = plus ? strchr(plus, '/') : NULL;
	if (!slash)
		return ip;
	*slash = 0;
	return kstrtoul(plus + 1, 0, &off) ? ip : ip - off;
}

/* Samples per module and context, however few each function has. */
#define MAX_MODS 16
static struct {
	char name[MODULE_NAME_LEN];
	unsigned int n[C_NR];
} mods[MAX_MODS];

/*
 * The name of the module @ip is in (within @buf, as its symbol prints
 * it: "sym+off/size [module]"), NULL for the kernel's own.
 */
static const char *module_of(unsigned long ip, char *buf)
{
	char *open, *close;

	sprint_symbol(buf, ip);
	open = strstr(buf, " [");
	close = open ? strchr(open, ']') : NULL;
	if (!close)
		return NULL;
	*close = 0;
	return open + 2;
}

static void count_module(const char *name, enum ctx ctx, unsigned int n)
{
	int i;

	for (i = 0; i < MAX_MODS && mods[i].name[0]; i++)
		if (!strcmp(mods[i].name, name))
			break;
	if (i == MAX_MODS)
		return;
	if (!mods[i].name[0])
		strscpy(mods[i].name, name);
	mods[i].n[ctx] += n;
}

static int by_ctx_then_ip(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	if (x->ctx != y->ctx)
		return x->ctx < y->ctx ? -1 : 1;
	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static int report_show(struct seq_file *m, void *unused)
{
	unsigned int n, i, j, per_ctx[C_NR] = { 0 };
	char buf[KSYM_SYMBOL_LEN];
	const char *mod;

	mutex_lock(&report_lock);
	stop_sampling();
	n = min_t(unsigned int, atomic_read(&taken), max_samples);
	/* Once: the addresses become function starts, grouped by context. */
	if (!reduced) {
		reduced = true;
		for (i = 0; i < n; i++)
			if (samples[i].ip)
				samples[i].ip = function_start(samples[i].ip);
		sort(samples, n, sizeof(*samples), by_ctx_then_ip, NULL);
	}
	for (i = 0; i < n; i++)
		per_ctx[samples[i].ctx]++;
	seq_printf(m, "period_us %u\nsamples %u\ndropped %d\n", period_us, n,
		   atomic_read(&dropped));
	for (i = 0; i < C_NR; i++)
		seq_printf(m, "ctx %s %u\n", ctx_name[i], per_ctx[i]);
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && samples[j].ctx == samples[i].ctx &&
			    samples[j].ip == samples[i].ip; j++)
			;
		if (!samples[i].ip)
			continue;
		mod = module_of(samples[i].ip, buf);
		if (mod && !reported)
			count_module(mod, samples[i].ctx, j - i);
		if ((u64)(j - i) * 1000 < (u64)n * min_permille && !mod)
			continue;
		seq_printf(m, "fn %s %u %pS\n", ctx_name[samples[i].ctx], j - i,
			   (void *)samples[i].ip);
	}
	reported = true;
	for (i = 0; i < MAX_MODS && mods[i].name[0]; i++)
		for (j = 0; j < C_NR; j++)
			if (mods[i].n[j])
				seq_printf(m, "mod %s %u %s\n", ctx_name[j],
					   mods[i].n[j], mods[i].name);
	mutex_unlock(&report_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(report);

static int __init bench_sampler_init(void)
{
	if (!period_us || !max_samples)
		return -EINVAL;
	samples = vcalloc(max_samples, sizeof(*samples));
	if (!samples)
		return -ENOMEM;
	dir = debugfs_create_dir("bench_sampler", NULL);
	debugfs_create_file("report", 0400, dir, NULL, &report_fops);
	on_each_cpu(start_on_this_cpu, NULL, 1);
	return 0;
}

static void __exit bench_sampler_exit(void)
{
	debugfs_remove_recursive(dir);
	stop_sampling();
	vfree(samples);
}

module_init(bench_sampler_init);
module_exit(bench_sampler_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Timer-driven kernel sampler for the dcbm test bed's benchmark");
