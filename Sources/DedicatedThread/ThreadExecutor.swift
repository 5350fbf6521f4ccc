#if canImport(Glibc)
    import Glibc
#endif

/// A serial executor that runs its jobs on one dedicated POSIX thread.
///
/// hiredis calls block (connect, read, write). An actor whose executor is one of these
/// keeps every blocking call off Swift's cooperative pool, so a slow Redis can never starve
/// the rest of the program (the TUI's input, other nodes' scans). The thread sleeps on a
/// condition variable when there is nothing to do.
public final class ThreadExecutor: SerialExecutor, @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var jobs: [UnownedJob] = []
    private var jobsHead = 0
    private var stopping = false

    public init(name: String) {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, 1 << 20)
        // The thread holds a strong reference until its loop ends.
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(
            &tid, &attr,
            { raw in
                guard let raw else { return nil }
                let executor = Unmanaged<ThreadExecutor>.fromOpaque(raw).takeRetainedValue()
                executor.runLoop()
                return nil
            }, box)
        pthread_attr_destroy(&attr)
        if rc != 0 {
            Unmanaged<ThreadExecutor>.fromOpaque(box).release()
            fatalError("cannot start a thread for \(name): pthread_create returned \(rc)")
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        pthread_mutex_lock(&mutex)
        jobs.append(unowned)
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread end once the queued jobs have run; call when the owner is gone.
    public func shutdown() {
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    private func runLoop() {
        while true {
            pthread_mutex_lock(&mutex)
            while jobsHead == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                jobsHead = 0
                if stopping {
                    pthread_mutex_unlock(&mutex)
                    return
                }
                pthread_cond_wait(&cond, &mutex)
            }
            let job = jobs[jobsHead]
            jobsHead += 1
            pthread_mutex_unlock(&mutex)
            job.runSynchronously(on: asUnownedSerialExecutor())
        }
    }
}
