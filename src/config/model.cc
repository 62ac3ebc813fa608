#include "config/model.h"

namespace l3af::config {

std::string SourceLocation::str() const {
    if (line == 0)
        return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const Collector* Config::findCollector(const std::string& name) const {
    for (const Collector& collector : collectors)
        if (collector.name == name)
            return &collector;
    return nullptr;
}

const char* toString(Transport transport) {
    switch (transport) {
    case Transport::Udp:
        return "udp";
    case Transport::Tcp:
        return "tcp";
    }
    return "?";
}

const char* toString(Direction direction) {
    switch (direction) {
    case Direction::Ingress:
        return "ingress";
    case Direction::Egress:
        return "egress";
    case Direction::Both:
        return "both";
    }
    return "?";
}

} // namespace l3af::config
