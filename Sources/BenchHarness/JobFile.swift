import Foundation

/// fio's job-file format (ini): `[global]` options apply to every job after them, each other
/// `[section]` is a job named after it; `;` and `#` start comments; bare keys are flags.
public enum JobFile {
    public static func parse(_ text: String, file: String, defaults: JobSpec = JobSpec(name: "")) throws(JobFileError) -> [JobSpec] {
        var global = defaults
        var jobs: [JobSpec] = []
        var current: JobSpec?
        var inGlobal = false
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let source = OptionSource(file: file, line: index + 1)
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix(";") || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else { throw .syntax(source, text: line) }
                if let job = current { jobs.append(job) }
                let section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                inGlobal = section == "global"
                current = inGlobal ? nil : { var job = global; job.name = section; return job }()
                continue
            }
            let (key, value) = splitOption(line)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw .syntax(source, text: line)
            }
            if inGlobal {
                try JobOption.apply(key, value, to: &global, source: source)
            } else if current != nil {
                try JobOption.apply(key, value, to: &current!, source: source)
            } else {
                throw .syntax(source, text: "\(line) (an option before any [section])")
            }
        }
        if let job = current { jobs.append(job) }
        guard !jobs.isEmpty else { throw .noJobs(file) }
        return jobs
    }

    /// "key=value" → (key, value); "key" → (key, nil).
    static func splitOption(_ text: String) -> (String, String?) {
        guard let equals = text.firstIndex(of: "=") else { return (text.trimmingCharacters(in: .whitespaces), nil) }
        return (text[..<equals].trimmingCharacters(in: .whitespaces),
                text[text.index(after: equals)...].trimmingCharacters(in: .whitespaces))
    }
}
