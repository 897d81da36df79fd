import SREngine
