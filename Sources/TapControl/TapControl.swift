// Tap control: placeholder until the control socket lands.
import DataPath
