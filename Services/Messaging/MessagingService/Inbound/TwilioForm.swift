import Foundation

extension TwilioWebhook {
    /// application/x-www-form-urlencoded → ordered (name, value) pairs ('+' is space, percent-decoding, UTF-8);
    /// duplicates kept.
    ///
    /// A `%` not followed by two hex digits is kept as it is (as browsers and Python do); bytes that are not UTF-8
    /// once decoded make the body `notAForm`.
    static func formParameters(_ body: Data) throws(WebhookParseError) -> [(name: String, value: String)] {
        var parameters: [(name: String, value: String)] = []
        for field in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let name: Data.SubSequence
            let value: Data.SubSequence
            if let equals = field.firstIndex(of: UInt8(ascii: "=")) {
                name = field[field.startIndex..<equals]
                value = field[field.index(after: equals)...]
            } else {
                name = field
                value = Data()[...]
            }
            guard let decodedName = decode(name), let decodedValue = decode(value) else {
                throw .notAForm("a form field is not UTF-8 once decoded")
            }
            parameters.append((decodedName, decodedValue))
        }
        return parameters
    }

    private static func decode(_ bytes: Data.SubSequence) -> String? {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                decoded.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), bytes.distance(from: index, to: bytes.endIndex) >= 3,
                let high = bytes[index + 1].hexDigitValue, let low = bytes[index + 2].hexDigitValue
            {
                decoded.append(high << 4 | low)
                index += 2
            } else {
                decoded.append(byte)
            }
            index += 1
        }
        return String(validating: decoded, as: UTF8.self)
    }
}
